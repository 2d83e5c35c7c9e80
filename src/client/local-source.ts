// Answers from a data directory on this machine: the index finds, the log's bytes answer
// (each checked against the row's leaf hash), proofs come from the log's own tiles.
import type { TopDimension } from "../index/db.js";
import { encodeCursor, parseFilter, type RawFilter } from "../index/query.js";
import { resolveEntries, type ResolvedEntry } from "../index/resolve.js";
import type { QuerySession } from "../index/session.js";
import { proveInclusion, proveInclusions, type Hash } from "../tlog/index.js";
import { ClientError } from "./errors.js";
import { proveEntry } from "./proven.js";
import {
  PAGE_SIZE,
  type Listing,
  type PageOptions,
  type ProvenEntry,
  type ReadSource,
  type TrustedCheckpoint,
} from "./source.js";

/** A ReadSource over an open query session (index caught up with the log's latest checkpoint). */
export function localSource(session: QuerySession, dataDir: string, verifierKey: string): ReadSource {
  const { log, index } = session;
  const cp = log.latestCheckpoint();
  const checkpoint: TrustedCheckpoint = {
    origin: cp.origin,
    size: cp.size,
    rootHash: cp.rootHash,
    note: cp.note,
  };

  const list = (raw: RawFilter, opts: PageOptions): Listing => {
    const filter = parseFilter(raw);
    filter.logSize = filter.cursor?.size ?? cp.size;
    const nowUs = Date.now() * 1000;
    let more: string | undefined;
    return {
      checkpoint: () => checkpoint,
      more: () => more,
      async *pages() {
        for (let remaining = opts.total; remaining > 0;) {
          filter.limit = Math.min(PAGE_SIZE, remaining);
          const found = index.search(filter, nowUs);
          const entries = await resolveEntries(log, found.rows);
          if (opts.proofs) {
            // A pruned or erased entry has no bytes to prove: it stays without a proof.
            const present = entries.filter((e) => e.gone === undefined);
            const proofs = await proveInclusions(
              cp.size,
              present.map((e) => e.row.idx),
              log.hashReader(),
            );
            const proofOf = new Map(present.map((e, i) => [e.row.idx, proofs[i] as Hash[]]));
            yield {
              entries: entries.map((e): ResolvedEntry | ProvenEntry =>
                e.gone === undefined ? { ...e, proof: proofOf.get(e.row.idx) as Hash[] } : e,
              ),
            };
          } else yield { entries };
          remaining -= entries.length;
          if (found.next === undefined) return;
          filter.cursor = found.next;
          if (remaining === 0) more = encodeCursor(found.next);
        }
      },
    };
  };

  return {
    where: dataDir,
    list,
    async top(dimension: TopDimension, raw: RawFilter, n: number) {
      const filter = parseFilter(raw);
      filter.logSize = cp.size;
      return index.top(dimension, filter, Date.now() * 1000, n);
    },
    async entry(idx: number) {
      if (idx >= cp.size)
        throw new ClientError(
          "config",
          `entry ${idx}: not in the log of size ${cp.size} (latest checkpoint)`,
        );
      let data: Uint8Array | undefined;
      for await (const e of log.readEntries(idx, idx + 1)) {
        if (e.gone !== undefined)
          throw new ClientError("gone", `entry ${idx}: ${e.gone.state} (${e.gone.reason})`);
        data = e.data;
      }
      if (data === undefined) throw new ClientError("config", `entry ${idx}: not readable from ${dataDir}`);
      const proof = await proveInclusion(cp.size, idx, log.hashReader());
      return { entry: proveEntry(idx, data, proof, checkpoint), checkpoint };
    },
    async verifierKey() {
      return { origin: log.origin, verifierKey };
    },
    async close() {
      session.close();
    },
  };
}
