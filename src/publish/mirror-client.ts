// The log's side of C2SP tlog-mirror for one mirror: for a new checkpoint, add-checkpoint (the
// mirror's pending checkpoint), then add-entries from the mirror's next entry up to the
// checkpoint, in requests of at most 32 packages (or 16 MiB of entries), each package with its
// subtree consistency proof. The mirror answers the last one with its cosignature once
// everything is durably stored. Its next entry is learned from its answers (a first empty
// upload gets a 409 naming it). Sequencing, retries and back-off: cosigner-client.ts.
import { Readable } from "node:stream";
import {
  type Hash,
  type LengthPrefix,
  encodeAddEntriesHeader,
  encodeEntryPackage,
  ENTRY_LENGTH_HEADER,
  lengthPrefixFor,
  MAX_PACKAGES_PER_REQUEST,
  packageRanges,
  parseMirrorInfo,
} from "../tlog/index.js";
import {
  CosignerClient,
  failure,
  type CosignerEndpoint,
  type CosignJob,
  type CosignOutcome,
  type ProveConsistency,
  type RequestTiming,
} from "./cosigner-client.js";
import type { HttpAnswer, HttpClient } from "./http-client.js";

/** What a mirror client reads from the log besides consistency proofs. */
export interface MirrorSource {
  /** SUBTREE_PROOF(start, end, D_n) from the log's tiles. */
  proveSubtree(start: number, end: number, n: number): Promise<Hash[]>;
  /** Entries [start, end) in order. */
  entries(start: number, end: number): Promise<Uint8Array[]>;
}

/** Stop adding packages to a request past this many bytes of entries. */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;
/** A mirror that keeps answering without progress is given up on after this many rounds. */
const MAX_STALLED_ROUNDS = 3;

export class MirrorClient extends CosignerClient {
  private nextEntry: number | null = null;
  private cosigned = 0;
  private readonly waiters: { size: number; resolve: () => void }[] = [];

  constructor(
    endpoint: CosignerEndpoint,
    http: HttpClient,
    timing: RequestTiming,
    prove: ProveConsistency,
    private readonly source: MirrorSource,
  ) {
    super(endpoint, http, timing, prove);
  }

  /** The largest tree size this mirror has cosigned (0 before any). */
  get cosignedSize(): number {
    return this.cosigned;
  }

  /** Resolves once the mirror has cosigned a checkpoint of at least `size`. */
  untilCosigned(size: number): Promise<void> {
    if (this.cosigned >= size) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ size, resolve }));
  }

  protected override settled(job: CosignJob, outcome: CosignOutcome): void {
    if (outcome.kind !== "cosigned") return;
    this.cosigned = Math.max(this.cosigned, job.cp.size);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i]!.size <= this.cosigned) this.waiters.splice(i, 1)[0]!.resolve();
    }
  }

  protected async exchange(job: CosignJob): Promise<CosignOutcome> {
    const r = await this.addCheckpoint(job);
    if ("outcome" in r) return r.outcome;
    const end = job.cp.size;
    let stalled = 0;
    while (stalled < MAX_STALLED_ROUNDS) {
      const before = this.nextEntry;
      const answer = await this.addEntries(job.cp.origin, Math.min(this.nextEntry ?? end, end), end);
      if (answer.status === 200) {
        this.nextEntry = end;
        return this.checked(answer.body.toString("utf8"), job);
      }
      if (answer.status !== 202 && answer.status !== 409) return failure("add-entries", answer);
      let next: number;
      try {
        next = parseMirrorInfo(answer.body.toString("utf8")).nextEntry;
      } catch {
        return {
          kind: "refused",
          status: answer.status,
          reason: "add-entries: an answer without mirror-info",
        };
      }
      if (next > end) return { kind: "ahead", size: next };
      this.nextEntry = next;
      stalled = next === before ? stalled + 1 : 0;
    }
    return { kind: "refused", status: 409, reason: `add-entries: no progress at entry ${this.nextEntry}` };
  }

  /** One add-entries request from `start` towards `end`: as many packages as fit. */
  private async addEntries(origin: string, start: number, end: number): Promise<HttpAnswer> {
    const packages: { entries: Uint8Array[]; proof: Hash[] }[] = [];
    let bytes = 0;
    for (const r of packageRanges(start, end).slice(0, MAX_PACKAGES_PER_REQUEST)) {
      if (bytes > MAX_REQUEST_BYTES) break;
      const entries = await this.source.entries(r.start, r.end);
      packages.push({ entries, proof: await this.source.proveSubtree(r.subtreeStart, r.end, end) });
      bytes += entries.reduce((n, e) => n + e.length, 0);
    }
    const prefix: LengthPrefix = packages.some((p) => lengthPrefixFor(p.entries) === 4) ? 4 : 2;
    const parts = [
      encodeAddEntriesHeader({ origin, uploadStart: start, uploadEnd: end, ticket: new Uint8Array(0) }),
      ...packages.map((p) => encodeEntryPackage(p.entries, p.proof, prefix)),
    ];
    return this.post("add-entries", Readable.from(parts), {
      "Content-Type": "application/octet-stream",
      ...(prefix === 4 ? { [ENTRY_LENGTH_HEADER]: "uint32" } : {}),
    });
  }
}
