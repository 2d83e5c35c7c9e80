// Evidence bundles: query answers an auditor can check alone. Each entry travels with its
// exact bytes and an inclusion proof against one signed checkpoint; verifying needs only the
// bundle and the log's verifier key. The format is documented in docs/evidence-bundle.md.
import type { LogReader } from "../store/types.js";
import {
  decodeBase64,
  encodeBase64,
  hashLeaf,
  NoteVerifier,
  parseCheckpoint,
  proveInclusion,
  splitNote,
  verifyInclusion,
  type Hash,
} from "../tlog/index.js";
import type { ResolvedEntry } from "./resolve.js";
import { isRecord } from "../json/record.js";
import { checkQuorum, type WitnessPolicy } from "../verify/witness-policy.js";
import { KeyHistory } from "../keys/key-history.js";
import { IndexError } from "./errors.js";

export const BUNDLE_FORMAT = "kubetrail-evidence-bundle";
export const BUNDLE_VERSION = 1;

export interface BundleEntry {
  index: number;
  /** The entry bytes as UTF-8 text (every JSON entry is); exactly the bytes that were hashed. */
  entry: string;
  /** Base64 hashes of the RFC 9162 inclusion proof for `index` in the checkpoint's tree. */
  inclusionProof: string[];
}

export interface EvidenceBundle {
  format: typeof BUNDLE_FORMAT;
  version: typeof BUNDLE_VERSION;
  /** The name of the key that must have signed the checkpoint (the log's origin). */
  verifierKeyName: string;
  /** The C2SP signed checkpoint note, exactly as the log served it. */
  checkpoint: string;
  /** When and for what the bundle was made: informative, not verified. */
  createdAt: string;
  query: Record<string, string[]>;
  entries: BundleEntry[];
  /**
   * The log's KeyEvents up to the checkpoint (key rotations), proven like entries: with them a
   * verifier who pinned an earlier key of the log follows it to the key that signed.
   */
  keyEvents?: BundleEntry[];
}

/** Everything in a bundle but its entries: the checkpoint they are proven against and the query. */
export function bundleHeader(
  cp: { origin: string; note: string },
  query: Record<string, string[]>,
  now = new Date(),
  keyEvents: readonly BundleEntry[] = [],
): Omit<EvidenceBundle, "entries"> {
  return {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    verifierKeyName: cp.origin,
    checkpoint: cp.note,
    createdAt: now.toISOString(),
    query,
    ...(keyEvents.length > 0 ? { keyEvents: [...keyEvents] } : {}),
  };
}

/** One bundle entry; throws when the bytes are not UTF-8 and so cannot travel as JSON text. */
export function bundleEntry(index: number, data: Uint8Array, proof: readonly Hash[]): BundleEntry {
  const text = Buffer.from(data).toString("utf8");
  if (!Buffer.from(text, "utf8").equals(Buffer.from(data))) {
    throw new IndexError("mismatch", `entry ${index}: not valid UTF-8, cannot be carried as text`);
  }
  return { index, entry: text, inclusionProof: proof.map(encodeBase64) };
}

/**
 * Builds a bundle proving `entries` against the log's latest checkpoint. Entries whose bytes
 * were pruned or erased cannot be proven and are left out.
 */
export async function buildBundle(
  log: LogReader,
  entries: readonly ResolvedEntry[],
  query: Record<string, string[]>,
  now = new Date(),
  keyEventIndexes: readonly number[] = [],
): Promise<EvidenceBundle> {
  const cp = log.latestCheckpoint();
  const reader = log.hashReader();
  const keyEvents: BundleEntry[] = [];
  for (const index of keyEventIndexes) {
    if (index >= cp.size) continue;
    for await (const e of log.readEntries(index, index + 1)) {
      if (e.data === undefined) continue;
      keyEvents.push(bundleEntry(index, e.data, await proveInclusion(cp.size, index, reader)));
    }
  }
  const out: BundleEntry[] = [];
  for (const { row, data, gone } of entries) {
    if (gone !== undefined) continue;
    out.push(bundleEntry(row.idx, data, await proveInclusion(cp.size, row.idx, reader)));
  }
  return { ...bundleHeader(cp, query, now, keyEvents), entries: out };
}

export interface BundleFailure {
  /** Position in bundle.entries, or undefined for a failure of the bundle as a whole. */
  item?: number;
  /** The log index the failing item claims. */
  index?: number;
  message: string;
}

export interface BundleReport {
  ok: boolean;
  origin?: string;
  treeSize?: number;
  rootHash?: string;
  /** With a witness policy: the witnesses whose cosignature the checkpoint carries. */
  witnesses?: string[];
  verified: number;
  failures: BundleFailure[];
}

/**
 * Checks a bundle with nothing but the verifier key: the checkpoint's signature by that key,
 * then every entry's bytes against its inclusion proof and the checkpoint's root. Never
 * throws for bad input: every problem is a failure naming the bundle item and log index.
 */
export function verifyBundle(
  bundle: unknown,
  verifierKey: string | readonly string[],
  opts: { witnesses?: WitnessPolicy | null } = {},
): BundleReport {
  const fail = (message: string): BundleReport => ({ ok: false, verified: 0, failures: [{ message }] });
  if (!isRecord(bundle)) return fail("not a JSON object");
  if (bundle["format"] !== BUNDLE_FORMAT) return fail(`format is not "${BUNDLE_FORMAT}"`);
  if (bundle["version"] !== BUNDLE_VERSION) {
    return fail(
      `version ${JSON.stringify(bundle["version"])} is not supported (this verifier reads ${BUNDLE_VERSION})`,
    );
  }
  let pinned: NoteVerifier[];
  try {
    pinned = (typeof verifierKey === "string" ? [verifierKey] : verifierKey).map((k) =>
      NoteVerifier.fromKey(k),
    );
  } catch (err) {
    return fail(`verifier key: ${(err as Error).message}`);
  }
  const verifier = pinned[0]!;
  if (bundle["verifierKeyName"] !== verifier.name) {
    return fail(
      `the bundle is for key "${String(bundle["verifierKeyName"])}" but the given key is "${verifier.name}"`,
    );
  }
  if (typeof bundle["checkpoint"] !== "string") return fail("checkpoint is missing");
  let size: number;
  let root: Hash;
  let witnesses: string[] | undefined;
  try {
    // The key history travels in the bundle (keyEvents), each event proven in the checkpoint's
    // tree: a checkpoint signed by a key added after the one pinned is followed to it.
    const claimed = parseCheckpoint(splitNote(bundle["checkpoint"]).text);
    const history = new KeyHistory();
    const events = bundle["keyEvents"] ?? [];
    if (!Array.isArray(events)) return fail("keyEvents is not a list");
    for (const [i, item] of events.entries()) {
      const problem = checkEntry(item, claimed.size, claimed.rootHash);
      if (problem !== null) return fail(`keyEvents[${i}]: ${problem}`);
      const { index, entry } = item as { index: number; entry: string };
      history.observe(index, Buffer.from(entry, "utf8"));
    }
    if (history.problems.length > 0) return fail(`keyEvents: ${history.problems[0]!.message}`);
    const cp = history.trust(pinned).open(bundle["checkpoint"], opts.witnesses?.witnesses ?? []);
    size = cp.size;
    root = cp.rootHash;
    if (opts.witnesses) {
      const quorum = checkQuorum(cp, opts.witnesses);
      if (!quorum.ok) return fail(`checkpoint: ${quorum.message}`);
      witnesses = quorum.present;
    }
  } catch (err) {
    return fail(`checkpoint: ${(err as Error).message}`);
  }
  if (!Array.isArray(bundle["entries"])) return fail("entries is not a list");
  const report: BundleReport = {
    ok: true,
    origin: verifier.name,
    treeSize: size,
    rootHash: encodeBase64(root),
    ...(witnesses ? { witnesses } : {}),
    verified: 0,
    failures: [],
  };
  bundle["entries"].forEach((item: unknown, i) => {
    const problem = checkEntry(item, size, root);
    if (problem === null) report.verified++;
    else {
      const index = isRecord(item) && typeof item["index"] === "number" ? item["index"] : undefined;
      report.failures.push({ item: i, ...(index === undefined ? {} : { index }), message: problem });
    }
  });
  report.ok = report.failures.length === 0;
  return report;
}

function checkEntry(item: unknown, size: number, root: Hash): string | null {
  if (!isRecord(item)) return "not an object";
  const { index, entry, inclusionProof } = item;
  if (typeof index !== "number" || !Number.isSafeInteger(index) || index < 0)
    return "index is not a log index";
  if (index >= size) return `index ${index} is beyond the checkpoint's tree size ${size}`;
  if (typeof entry !== "string") return "entry is not a string";
  if (!Array.isArray(inclusionProof)) return "inclusionProof is not a list";
  const proof: Hash[] = [];
  for (const h of inclusionProof) {
    const bytes = typeof h === "string" ? decodeBase64(h) : null;
    if (!bytes) return "inclusionProof holds something that is not base64";
    proof.push(bytes);
  }
  const leaf = hashLeaf(Buffer.from(entry, "utf8"));
  if (!verifyInclusion(leaf, index, size, proof, root)) {
    return "inclusion proof does not verify (the entry or the proof was altered)";
  }
  return null;
}
