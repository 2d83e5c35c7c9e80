// Webhook batches of generated events, each remembering the (auditID, stage) keys it carries,
// and the apiserver's side of the protocol: retry every batch until it is acknowledged.
import { generateEvents, toEventList } from "../../bench/gen/events.js";
import type { AuditEvent } from "../../src/audit/types.js";
import { postEvents, type Serve } from "./serve-process.js";

export interface Batch {
  id: number;
  keys: string[];
  body: string;
}

export function eventKey(ev: { auditID?: string; stage?: string }): string {
  return `${ev.auditID ?? "?"}/${ev.stage ?? "?"}`;
}

export function makeBatches(seed: number, count: number, perBatch: number): Batch[] {
  const batches: Batch[] = [];
  let current: AuditEvent[] = [];
  const flush = (): void => {
    batches.push({
      id: batches.length,
      keys: current.map(eventKey),
      body: JSON.stringify(toEventList(current)),
    });
    current = [];
  };
  for (const ev of generateEvents({ seed, count })) {
    current.push(ev);
    if (current.length === perBatch) flush();
  }
  if (current.length > 0) flush();
  return batches;
}

export interface SendOutcome {
  acked: Set<number>;
  statuses: Map<number, number>;
  /** Network errors seen (status 0), for failure messages. */
  errors?: string[];
}

/**
 * `senders` concurrent clients take batches from `queue` (shared, mutated) and POST them;
 * a 200 marks the batch acknowledged, anything else puts it back for a later retry.
 * Stops when the queue is empty or `stop()` returns true.
 */
export async function sendBatches(
  serve: Serve,
  queue: Batch[],
  outcome: SendOutcome,
  opts: { senders: number; stop?: () => boolean },
): Promise<void> {
  const worker = async (): Promise<void> => {
    while (!(opts.stop?.() ?? false)) {
      const batch = queue.shift();
      if (batch === undefined) return;
      let status = 0;
      try {
        status = (await postEvents(serve, batch.body)).status;
      } catch (err) {
        status = 0; // connection refused or reset: the server died mid-request
        outcome.errors?.push((err as Error).message);
      }
      outcome.statuses.set(status, (outcome.statuses.get(status) ?? 0) + 1);
      if (status === 200) outcome.acked.add(batch.id);
      else {
        queue.push(batch);
        if (status === 0) return;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.senders }, worker));
}
