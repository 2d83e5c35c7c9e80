// `kubetrail proof INDEX | KIND/NAME | --audit-id ID`: one entry with its inclusion proof in the
// latest signed checkpoint, checked here against the verifier key before anything is printed.
import type { Command } from "commander";
import { historyFilter, isChange } from "../index/history.js";
import { parseKindName } from "../index/kinds.js";
import { objectLabel, resourceLabel } from "../index/present.js";
import type { RawFilter } from "../index/query.js";
import { encodeBase64 } from "../tlog/index.js";
import type { ProvenEntry, ReadSource, TrustedCheckpoint } from "../client/source.js";
import { CliError } from "./errors.js";
import { usageError } from "./output/filter-options.js";
import { checkOutput, USAGE_EXIT } from "./output/format.js";
import { addSourceOptions, openSource, sourceKind, type SourceFlags } from "./output/source-options.js";

export interface ProofFlags extends SourceFlags {
  namespace?: string;
  auditId?: string;
  output: string;
}

export function registerProof(program: Command): void {
  const cmd = program
    .command("proof")
    .argument("[entry]", "a log index, or KIND/NAME for the object's latest change")
    .description("prove one entry is in the log: its inclusion proof, checked against the signed checkpoint")
    .option("-n, --namespace <ns>", "namespace of KIND/NAME")
    .option("--audit-id <id>", "the entry of this request (its final stage)")
    .option("-o, --output <format>", "text, json or yaml", "text");
  addSourceOptions(cmd).action(async (what: string | undefined, o: ProofFlags) => {
    const format = checkOutput(o.output, ["text", "json", "yaml"]);
    if ((what === undefined) === (o.auditId === undefined))
      throw new CliError("give one of: a log index, KIND/NAME, or --audit-id ID", USAGE_EXIT);
    sourceKind(o);
    const source = await openSource(o);
    try {
      const index = await entryIndex(source, what, o);
      const { entry, checkpoint } = await source.entry(index);
      process.stdout.write(await proofText(entry, checkpoint, format));
    } finally {
      await source.close();
    }
  });
}

/** The log index the argument names: itself, an object's latest change, or a request's entry. */
export async function entryIndex(
  source: ReadSource,
  what: string | undefined,
  o: { namespace?: string; auditId?: string },
): Promise<number> {
  if (what !== undefined && /^\d+$/.test(what)) {
    if (!Number.isSafeInteger(Number(what))) throw new CliError(`"${what}" is not a log index`, USAGE_EXIT);
    return Number(what);
  }
  let filter: RawFilter;
  let describe: string;
  if (what !== undefined) {
    let target;
    try {
      target = parseKindName(what);
    } catch (err) {
      usageError(err);
    }
    filter = historyFilter({ ...target, ...(o.namespace === undefined ? {} : { namespace: o.namespace }) });
    delete filter.asc; // newest first: the latest change
    describe = `no change to ${what}${o.namespace ? ` in namespace ${o.namespace}` : ""} found`;
  } else {
    filter = { "audit-id": [o.auditId as string] };
    describe = `no event with auditID ${o.auditId} found`;
  }
  for await (const page of source.list(filter, { total: 100 }).pages()) {
    const found = page.entries.find((e) => isChange(e.row));
    if (found !== undefined) return found.row.idx;
  }
  throw new CliError(describe);
}

export async function proofText(
  entry: ProvenEntry,
  cp: TrustedCheckpoint,
  format: "text" | "json" | "yaml",
): Promise<string> {
  const r = entry.row;
  const doc = {
    index: r.idx,
    verified: true,
    origin: cp.origin,
    treeSize: cp.size,
    rootHash: encodeBase64(cp.rootHash),
    leafHash: encodeBase64(r.leafHash),
    inclusionProof: entry.proof.map(encodeBase64),
    checkpoint: cp.note,
    event: entry.value,
  };
  if (format === "json") return JSON.stringify(doc, null, 2) + "\n";
  if (format === "yaml") return (await import("yaml")).stringify(doc);
  const what =
    r.verb === null
      ? (r.kind ?? "entry")
      : `${r.verb} ${resourceLabel(r) || r.requestURI || "-"} ${objectLabel(r) || ""}`.trimEnd() +
        ` by ${r.user ?? "-"} at ${r.time ?? "-"}`;
  return (
    [
      `OK: entry ${r.idx} is included in the log "${cp.origin}" of size ${cp.size}`,
      `  event:      ${what}${r.auditID ? ` (auditID ${r.auditID})` : ""}`,
      `  leaf hash:  ${doc.leafHash}`,
      `  root hash:  ${doc.rootHash}`,
      `  proof:      ${entry.proof.length} hashes, checked against the checkpoint's root and signature`,
      ...entry.proof.map((h, i) => `    ${String(i).padStart(2)}  ${encodeBase64(h)}`),
    ].join("\n") + "\n"
  );
}
