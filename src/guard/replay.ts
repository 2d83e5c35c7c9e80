// `guard replay`: a candidate policy evaluated over stored history — every create, update and
// patch whose object the log holds — listing what it would have denied, warned or recorded
// (a policy in audit mode, as the built-ins are by default), each with
// the event's log index and an inclusion proof checked against the signed checkpoint, and a
// summary by policy, namespace and user. Events logged below Request level carry no body and
// are counted, never guessed at.
import type { AuditEvent } from "../audit/types.js";
import type { QueryIndex } from "../index/db.js";
import { MAX_LIMIT, parseFilter } from "../index/query.js";
import { resolveEntries } from "../index/resolve.js";
import type { LogReader } from "../store/types.js";
import {
  encodeBase64,
  hashLeaf,
  proveInclusion,
  verifyInclusion,
  type Hash,
  type HashReader,
} from "../tlog/index.js";
import { auditEventRequest, REPLAYED_VERBS } from "./audit-request.js";
import { evaluatePolicies } from "./evaluate.js";
import { NamespaceCache } from "./namespaces.js";
import type { LoadedPolicy } from "./policy/policy.js";
import { GuardError, type Effect, type Operation, type PolicyResult } from "./types.js";

export interface ReplayFinding {
  /** The audit event's index in the log. */
  index: number;
  time: string;
  auditID: string;
  user: string;
  operation: Operation;
  object: { apiGroup: string; resource: string; subresource?: string; namespace?: string; name?: string };
  /** The response code the request actually got. */
  code?: number;
  /** deny, warn and/or audit: what the candidate policies would have done. */
  effects: Effect[];
  /** The policies that would have denied, warned or recorded, with their violations. */
  policies: PolicyResult[];
  /** RFC 9162 inclusion proof of the event in the checkpoint the replay read, base64 hashes. */
  inclusionProof: string[];
}

interface Tally {
  deny: number;
  warn: number;
  /** Findings whose strongest effect is audit: recorded, the request let through. */
  audit: number;
}

export interface ReplaySummary {
  /** Size of the signed checkpoint every proof is against. */
  checkpointSize: number;
  /** Creates, updates and patches found in the time range. */
  candidates: number;
  evaluated: number;
  /** Of those, logged below Request level: no body, not evaluated. */
  belowRequestLevel: number;
  /** Others not evaluated, by reason (a patch's body is not an object, …). */
  skipped: Record<string, number>;
  findings: number;
  byPolicy: Record<string, Tally>;
  byNamespace: Record<string, Tally>;
  byUser: Record<string, Tally>;
}

export interface ReplayReport {
  apiVersion: "kubetrail.dev/v1";
  kind: "GuardReplayReport";
  since?: string;
  policies: { name: string; binding?: string; version: string; hash: string; modes: string[] }[];
  summary: ReplaySummary;
  findings: ReplayFinding[];
}

/** The report less its findings, which replayHistory hands over one at a time as it finds them. */
export type ReplayResult = Omit<ReplayReport, "findings">;

/** Strongest first: a finding is tallied under the strongest effect it had. */
const EFFECT_ORDER: readonly Effect[] = ["deny", "warn", "audit"];

/** Evaluates events one by one (in log order); pure, so the CLI and the bench share it. */
export class ReplayEvaluator {
  readonly namespaces = new NamespaceCache();
  readonly summary: Omit<ReplaySummary, "checkpointSize"> = {
    candidates: 0,
    evaluated: 0,
    belowRequestLevel: 0,
    skipped: {},
    findings: 0,
    byPolicy: {},
    byNamespace: {},
    byUser: {},
  };

  constructor(
    private readonly policies: readonly LoadedPolicy[],
    private readonly nowMs: number,
  ) {}

  /** Counts a create/update known (from the index) to be below Request level. */
  countBelowRequestLevel(n = 1): void {
    this.summary.candidates += n;
    this.summary.belowRequestLevel += n;
  }

  /** The finding for one stored event, when a candidate policy would have denied, warned or recorded. */
  add(index: number, event: AuditEvent): Omit<ReplayFinding, "inclusionProof"> | undefined {
    // Namespace labels as they were at this point of history.
    this.namespaces.observeAuditEvent(event);
    this.summary.candidates++;
    const made = auditEventRequest(event);
    if ("belowRequestLevel" in made) {
      this.summary.belowRequestLevel++;
      return undefined;
    }
    if ("skipped" in made) {
      this.summary.skipped[made.skipped] = (this.summary.skipped[made.skipped] ?? 0) + 1;
      return undefined;
    }
    const r = made.request;
    this.summary.evaluated++;
    const d = evaluatePolicies(this.policies, r, {
      nowMs: this.nowMs,
      namespaceObject: this.namespaces.object(r.namespace),
    });
    const hits = d.policies.filter((p) => p.effects.length > 0);
    if (hits.length === 0) return undefined;
    const effects = EFFECT_ORDER.filter((e) => hits.some((p) => p.effects.includes(e)));
    this.summary.findings++;
    const tally = (map: Record<string, Tally>, key: string, e: Effect[]) => {
      const t = (map[key] ??= { deny: 0, warn: 0, audit: 0 });
      t[EFFECT_ORDER.find((x) => e.includes(x))!]++;
    };
    for (const p of hits)
      tally(
        this.summary.byPolicy,
        p.binding === undefined ? p.policy : `${p.policy}/${p.binding}`,
        p.effects,
      );
    tally(this.summary.byNamespace, r.namespace === "" ? "(cluster)" : r.namespace, effects);
    tally(this.summary.byUser, r.userInfo.username, effects);
    const object: ReplayFinding["object"] = { apiGroup: r.resource.group, resource: r.resource.resource };
    if (r.subResource !== "") object.subresource = r.subResource;
    if (r.namespace !== "") object.namespace = r.namespace;
    if (r.name !== "") object.name = r.name;
    const finding: Omit<ReplayFinding, "inclusionProof"> = {
      index,
      time: event.requestReceivedTimestamp,
      auditID: event.auditID,
      user: r.userInfo.username,
      operation: r.operation,
      object,
      effects,
      policies: hits,
    };
    if (typeof event.responseStatus?.code === "number") finding.code = event.responseStatus.code;
    return finding;
  }
}

/**
 * Index rows per query: the index answers in time order, sorting the matches after the cursor
 * each time, so few large pages cost far less than many small ones. Entries are then read
 * from the log a chunk at a time, which bounds the memory held.
 */
const PAGE = MAX_LIMIT;
const CHUNK = 2000;

/** Stored hashes already read, kept: neighbouring findings' proofs share most of their nodes. */
function memoHashReader(inner: HashReader, max = 1 << 20): HashReader {
  const known = new Map<number, Hash>();
  return {
    async readHashes(indexes) {
      const missing = indexes.filter((i) => !known.has(i));
      if (missing.length > 0) {
        const read = await inner.readHashes(missing);
        if (known.size + missing.length > max) known.clear();
        missing.forEach((i, k) => known.set(i, read[k]!));
      }
      return indexes.map((i) => known.get(i)!);
    },
  };
}

/**
 * Replays `policies` over the creates and updates since `since` (a duration such as 30d) in
 * the log as of its latest checkpoint, reading them through the index. Each finding goes to
 * `onFinding` in log order once its inclusion proof is verified (a proof that does not verify
 * throws); none is kept here, so a replay that flags millions holds only the summary.
 */
export async function replayHistory(
  log: LogReader,
  index: QueryIndex,
  policies: readonly LoadedPolicy[],
  opts: {
    since?: string;
    nowMs: number;
    onFinding: (finding: ReplayFinding) => void;
    onProgress?: (done: number) => void;
  },
): Promise<ReplayResult> {
  const cp = log.latestCheckpoint();
  const reader = memoHashReader(log.hashReader());
  const evaluator = new ReplayEvaluator(policies, opts.nowMs);
  const raw: Record<string, string[]> = {
    verb: REPLAYED_VERBS,
    kind: ["event"],
    asc: ["true"],
    limit: [String(PAGE)],
  };
  if (opts.since !== undefined) raw["since"] = [opts.since];
  const filter = parseFilter(raw);
  filter.logSize = cp.size;
  for (;;) {
    const page = index.search(filter, opts.nowMs * 1000);
    const withBody = page.rows.filter((r) => r.level === "Request" || r.level === "RequestResponse");
    evaluator.countBelowRequestLevel(page.rows.length - withBody.length);
    for (let i = 0; i < withBody.length; i += CHUNK) {
      for (const entry of await resolveEntries(log, withBody.slice(i, i + CHUNK))) {
        const found = evaluator.add(entry.row.idx, entry.value as AuditEvent);
        if (!found) continue;
        const proof = await proveInclusion(cp.size, found.index, reader);
        if (!verifyInclusion(hashLeaf(entry.data), found.index, cp.size, proof, cp.rootHash))
          throw new GuardError(
            "replay",
            `entry ${found.index}: its inclusion proof does not verify against the checkpoint of size ${cp.size}`,
          );
        opts.onFinding({ ...found, inclusionProof: proof.map(encodeBase64) });
      }
      opts.onProgress?.(evaluator.summary.candidates);
    }
    if (page.next === undefined) break;
    filter.cursor = page.next;
  }
  return {
    apiVersion: "kubetrail.dev/v1",
    kind: "GuardReplayReport",
    ...(opts.since === undefined ? {} : { since: opts.since }),
    policies: policies
      .filter((p) => p.modes.length > 0)
      .map((p) => ({
        name: p.name,
        ...(p.binding === undefined ? {} : { binding: p.binding }),
        version: p.version,
        hash: p.hash,
        modes: p.modes,
      })),
    summary: { checkpointSize: cp.size, ...evaluator.summary },
  };
}
