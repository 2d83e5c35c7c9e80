// Fuzz targets for every parser of untrusted input, each a bounded number of fast-check runs:
// whatever the bytes, a parser returns a well-formed value or throws its own typed error —
// never a TypeError, a RangeError or anything that would surface as a 500.
// KUBETRAIL_FUZZ_RUNS raises the number of runs per property (default 150).
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { stringify as toYaml, parse as fromYaml } from "yaml";
import { generateEvents, toEventList } from "../../bench/gen/events.js";
import { PolicyError } from "../../src/audit/policy/errors.js";
import { parsePolicyText } from "../../src/audit/policy/load.js";
import { LEVELS, STAGES } from "../../src/audit/types.js";
import { parseSigmaRule } from "../../src/detect/sigma/loader.js";
import { DetectError } from "../../src/detect/types.js";
import { IngestError } from "../../src/ingest/errors.js";
import { parseEventList } from "../../src/ingest/normalize.js";
import {
  formatCheckpoint,
  generateNoteKey,
  NoteSigner,
  NoteVerifier,
  openNote,
  parseCheckpoint,
  signNote,
  TlogError,
} from "../../src/tlog/index.js";
import { testSeed } from "../fixtures/seed.js";

const RUNS = Number(process.env.KUBETRAIL_FUZZ_RUNS ?? 150);
/** fast-check's settings for one property: its runs and the test's seed (printed if it fails). */
const params = () => ({ numRuns: RUNS, seed: testSeed(20261121) });

type ErrorClass = abstract new (...args: never[]) => Error;

/** Runs `fn`; an exception must be an instance of `allowed`, anything else fails with its story. */
function onlyThrows<T>(allowed: ErrorClass, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof allowed) return undefined;
    throw new Error(
      `expected only ${allowed.name}, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
    );
  }
}

/** Replaces the node reached by following `path` (child picks modulo the child count) with `value`. */
function replaceAt(root: unknown, path: number[], value: unknown): unknown {
  if (path.length === 0 || root === null || typeof root !== "object") return value;
  const [head, ...rest] = path as [number, ...number[]];
  if (Array.isArray(root)) {
    if (root.length === 0) return value;
    const i = head % root.length;
    return root.map((c, j) => (j === i ? replaceAt(c, rest, value) : c));
  }
  const keys = Object.keys(root);
  if (keys.length === 0) return value;
  const k = keys[head % keys.length] as string;
  return {
    ...(root as Record<string, unknown>),
    [k]: replaceAt((root as Record<string, unknown>)[k], rest, value),
  };
}

/** Deletes the node reached by `path`. */
function deleteAt(root: unknown, path: number[]): unknown {
  if (root === null || typeof root !== "object" || path.length === 0) return root;
  const [head, ...rest] = path as [number, ...number[]];
  if (Array.isArray(root)) {
    if (root.length === 0) return root;
    const i = head % root.length;
    return rest.length === 0
      ? root.filter((_, j) => j !== i)
      : root.map((c, j) => (j === i ? deleteAt(c, rest) : c));
  }
  const keys = Object.keys(root);
  if (keys.length === 0) return root;
  const k = keys[head % keys.length] as string;
  const copy = { ...(root as Record<string, unknown>) };
  if (rest.length === 0) delete copy[k];
  else copy[k] = deleteAt(copy[k], rest);
  return copy;
}

const mutation = fc.oneof(
  fc.record({
    kind: fc.constant("replace" as const),
    path: fc.array(fc.nat(), { maxLength: 6 }),
    value: fc.jsonValue({ maxDepth: 3 }),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    path: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
  }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;
const applyMutations = (doc: unknown, ms: Mutation[]): unknown =>
  ms.reduce((d, m) => (m.kind === "replace" ? replaceAt(d, m.path, m.value) : deleteAt(d, m.path)), doc);

/** Byte-level damage: flip, insert or cut at positions chosen by the fuzzer. */
const byteEdits = fc.array(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom("flip", "insert", "cut")),
  { maxLength: 4 },
);
function damage(bytes: Buffer, edits: [number, number, "flip" | "insert" | "cut"][]): Buffer {
  let b = Buffer.from(bytes);
  for (const [pos, byte, op] of edits) {
    const at = b.length === 0 ? 0 : pos % b.length;
    if (op === "flip") b[at] = byte;
    else if (op === "insert") b = Buffer.concat([b.subarray(0, at), Buffer.from([byte]), b.subarray(at)]);
    else b = b.subarray(0, at);
  }
  return b;
}

describe("fuzz: webhook EventList (src/ingest/normalize parseEventList)", () => {
  const seeds = [0, 1, 2].map((s) => toEventList(generateEvents({ seed: 900 + s, count: 8 })));

  const checkResult = (events: ReturnType<typeof parseEventList> | undefined): void => {
    for (const ev of events ?? []) {
      expect(typeof ev.auditID).toBe("string");
      expect(STAGES).toContain(ev.stage);
      expect(LEVELS).toContain(ev.level);
    }
  };

  it("arbitrary bytes give events or an IngestError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) =>
        checkResult(onlyThrows(IngestError, () => parseEventList(Buffer.from(bytes)))),
      ),
      params(),
    );
  });

  it("arbitrary JSON under the EventList envelope gives events or an IngestError", () => {
    const envelope = fc.record({
      kind: fc.oneof(fc.constant("EventList"), fc.jsonValue({ maxDepth: 1 })),
      apiVersion: fc.oneof(
        fc.constantFrom("audit.k8s.io/v1", "audit.k8s.io/v1beta1"),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      items: fc.oneof(
        fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 4 }),
        fc.jsonValue({ maxDepth: 2 }),
      ),
    });
    fc.assert(
      fc.property(envelope, (doc) =>
        checkResult(onlyThrows(IngestError, () => parseEventList(JSON.stringify(doc)))),
      ),
      params(),
    );
  });

  it("structurally mutated real EventLists give valid events or an IngestError", () => {
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 }), (seed, ms) =>
        checkResult(onlyThrows(IngestError, () => parseEventList(JSON.stringify(applyMutations(seed, ms))))),
      ),
      params(),
    );
  });

  it("byte-damaged real EventLists give valid events or an IngestError", () => {
    fc.assert(
      fc.property(fc.constantFrom(...seeds), byteEdits, (seed, edits) =>
        checkResult(
          onlyThrows(IngestError, () => parseEventList(damage(Buffer.from(JSON.stringify(seed)), edits))),
        ),
      ),
      params(),
    );
  });

  it("undamaged generated EventLists round-trip item for item", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 0, max: 20 }), (seed, count) => {
        const list = toEventList(generateEvents({ seed, count }));
        const events = parseEventList(JSON.stringify(list));
        expect(events.map((e) => `${e.auditID}/${e.stage}`)).toEqual(
          list.items.map((e) => `${e.auditID}/${e.stage}`),
        );
      }),
      { ...params(), numRuns: Math.min(RUNS, 50) },
    );
  });
});

describe("fuzz: checkpoints and signed notes (src/tlog)", () => {
  const { signerKey, verifierKey } = generateNoteKey("fuzz.example/log");
  const signer = NoteSigner.fromKey(signerKey);
  const verifier = NoteVerifier.fromKey(verifierKey);
  const text = formatCheckpoint({
    origin: "fuzz.example/log",
    size: 12345,
    rootHash: new Uint8Array(32).fill(9),
    extensions: [],
  });
  let note = "";
  beforeAll(async () => {
    note = await signNote(text, [signer]);
  });

  it("parseCheckpoint gives a checkpoint that formats back to the same text, or a TlogError", () => {
    const lines = fc.array(
      fc.oneof(
        fc.string({ maxLength: 48 }),
        fc.constantFrom("12345", "0", "007", Buffer.alloc(32, 1).toString("base64")),
      ),
      { maxLength: 5 },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          lines.map((ls) => ls.join("\n") + "\n"),
        ),
        (s) => {
          const cp = onlyThrows(TlogError, () => parseCheckpoint(s));
          if (cp) expect(formatCheckpoint(cp)).toBe(s);
        },
      ),
      params(),
    );
  });

  it("openNote of a damaged note either throws a TlogError or still vouches for exactly the signed text", () => {
    fc.assert(
      fc.property(byteEdits, (edits) => {
        const opened = onlyThrows(TlogError, () =>
          openNote(damage(Buffer.from(note, "utf8"), edits), [verifier]),
        );
        if (opened) expect(opened.text).toBe(text);
      }),
      params(),
    );
  });

  it("openNote of arbitrary text throws a TlogError unless it is the signed note", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const opened = onlyThrows(TlogError, () => openNote(s, [verifier]));
        if (opened) expect(opened.text).toBe(text);
      }),
      params(),
    );
  });
});

const POLICY_SEED = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
    resources:
      - group: ""
        resources: ["endpoints", "services", "services/status"]
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "configmaps"]
  - level: None
    nonResourceURLs: ["/healthz*", "/version"]
  - level: RequestResponse
    namespaces: ["kube-system"]
    omitStages: ["RequestReceived", "ResponseStarted"]
  - level: Request
    userGroups: ["system:authenticated"]
`;

describe("fuzz: audit Policy (src/audit/policy parsePolicyText)", () => {
  it('an unresolved YAML alias ("*!") is a PolicyError', () => {
    expect(onlyThrows(PolicyError, () => parsePolicyText("*!", "alias.yaml"))).toBeUndefined();
  });
  const seedDoc: unknown = fromYaml(POLICY_SEED);
  it("arbitrary text gives a Policy or a PolicyError", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 300 }),
        (s) => void onlyThrows(PolicyError, () => parsePolicyText(s, "fuzz.yaml")),
      ),
      params(),
    );
  });
  it("structurally mutated policies give a Policy or a PolicyError", () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
        void onlyThrows(PolicyError, () => parsePolicyText(toYaml(applyMutations(seedDoc, ms)), "fuzz.yaml"));
      }),
      params(),
    );
  });
  it("byte-damaged policies give a Policy or a PolicyError", () => {
    fc.assert(
      fc.property(
        byteEdits,
        (edits) =>
          void onlyThrows(PolicyError, () =>
            parsePolicyText(damage(Buffer.from(POLICY_SEED), edits).toString("utf8"), "fuzz.yaml"),
          ),
      ),
      params(),
    );
  });
});

const SIGMA_SEED = `title: Exec into a pod in kube-system
id: 5b1f0c2e-9a8d-4c3b-b7e6-2d4f6a8c0e1f
status: test
description: Someone opened a shell in a system pod.
logsource:
  product: kubernetes
  service: audit
detection:
  selection:
    objectRef.resource: pods
    objectRef.subresource: exec
    objectRef.namespace|startswith:
      - kube-
    verb: create
  filter_system:
    user.username|re: "^system:(node|serviceaccount):"
  filter_ip:
    sourceIPs|cidr: 10.0.0.0/8
  condition: selection and not (filter_system or filter_ip)
level: high
`;

describe("fuzz: Sigma rules (src/detect/sigma parseSigmaRule)", () => {
  it('an unresolved YAML alias ("*!") is a DetectError', () => {
    expect(onlyThrows(DetectError, () => parseSigmaRule("*!", "alias.yml"))).toBeUndefined();
  });
  const seedDoc: unknown = fromYaml(SIGMA_SEED);
  it("the seed rule parses (so mutations start from a valid rule)", () => {
    expect(parseSigmaRule(SIGMA_SEED, "seed.yml").title).toBe("Exec into a pod in kube-system");
  });
  it("arbitrary text gives a Rule or a DetectError", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 300 }),
        (s) => void onlyThrows(DetectError, () => parseSigmaRule(s, "fuzz.yml")),
      ),
      params(),
    );
  });
  it("structurally mutated rules give a Rule or a DetectError", () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
        void onlyThrows(DetectError, () => parseSigmaRule(toYaml(applyMutations(seedDoc, ms)), "fuzz.yml"));
      }),
      params(),
    );
  });
  it("condition expressions from the fuzzer give a Rule or a DetectError", () => {
    const token = fc.constantFrom(
      "selection",
      "filter_system",
      "filter_ip",
      "and",
      "or",
      "not",
      "(",
      ")",
      "1 of",
      "all of",
      "them",
      "selection*",
      "|",
      "missing",
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 8 }), (toks) => {
        const doc = replaceAt(seedDoc, [], seedDoc) as { detection: Record<string, unknown> };
        const text = toYaml({ ...doc, detection: { ...doc.detection, condition: toks.join(" ") } });
        void onlyThrows(DetectError, () => parseSigmaRule(text, "fuzz.yml"));
      }),
      params(),
    );
  });
  it("byte-damaged rules give a Rule or a DetectError", () => {
    fc.assert(
      fc.property(
        byteEdits,
        (edits) =>
          void onlyThrows(DetectError, () =>
            parseSigmaRule(damage(Buffer.from(SIGMA_SEED), edits).toString("utf8"), "fuzz.yml"),
          ),
      ),
      params(),
    );
  });
});
