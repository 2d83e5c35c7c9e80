// The data the UI tests and the UI bench look at, sent to a real `serve` through its real
// webhook (so ingest, redaction, indexing and detection all run): the bench generator's
// realistic cluster traffic, a small investigation (a ConfigMap created, changed and deleted,
// a refused secret read, an exec, a new cluster-admin binding), Secrets whose values are
// redacted, and events shaped exactly as a real apiserver records them.
import type { AuditEvent } from "../../src/audit/types.js";
import { formatMicroTime, generateEvents, toEventList } from "../../bench/gen/events.js";
import { apiserverEvents, eventList } from "../fixtures/audit/events.js";
import { request } from "../fixtures/audit/request.js";
import { requestEvents, SCENARIO, type EventSpec } from "../query-fixtures.js";

/** The investigation, moved to end `minutesAgo` minutes before now so the last-24h view holds it. */
export function scenarioEvents(nowMs: number, minutesAgo = 5): AuditEvent[] {
  const last = Date.parse(SCENARIO[SCENARIO.length - 1]!.time);
  const shift = nowMs - minutesAgo * 60_000 - last;
  const move = (t: string): string =>
    formatMicroTime((Date.parse(t) + shift) * 1000 + Number(t.slice(23, 26)));
  const specs: EventSpec[] = SCENARIO.map((s) => ({ ...s, time: move(s.time) }));
  return specs.flatMap((s) => requestEvents(s)).map(({ kind: _k, apiVersion: _a, ...e }) => e as AuditEvent);
}

/** A Secret created with its values in the request body: ingest masks them with HMAC tags. */
export function secretEvents(nowMs: number): AuditEvent[] {
  const t = formatMicroTime((nowMs - 3 * 60_000) * 1000);
  return requestEvents({
    id: "secret-create-1",
    time: t,
    user: "alice",
    verb: "create",
    resource: "secrets",
    namespace: "prod",
    name: "db-password",
    code: 201,
    body: {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db-password", namespace: "prod" },
      type: "Opaque",
      data: { password: "c3VwZXItc2VjcmV0LXBhc3N3b3Jk" },
    },
  }).map(({ kind: _k, apiVersion: _a, ...e }) => e as AuditEvent);
}

/** Generated traffic over the last `minutes` minutes, `count` events (seeded). */
export function* generatedBatches(
  seed: number,
  count: number,
  nowMs: number,
  minutes: number,
  batch = 1000,
): Generator<AuditEvent[]> {
  let pending: AuditEvent[] = [];
  const rate = count / (minutes * 60);
  const startTime = formatMicroTime((nowMs - minutes * 60_000) * 1000);
  for (const ev of generateEvents({ seed, count, startTime, ratePerSecond: rate })) {
    pending.push(ev);
    if (pending.length === batch) {
      yield pending;
      pending = [];
    }
  }
  if (pending.length > 0) yield pending;
}

export interface CorpusCounts {
  events: number;
}

async function post(port: number, token: string, ca: string, body: string): Promise<void> {
  const r = await request(port, {
    method: "POST",
    path: "/v1/audit/webhook",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body,
    ca,
  });
  if (r.status !== 200) throw new Error(`webhook answered ${r.status}: ${r.body}`);
}

/** Sends the whole corpus through the webhook; resolves with how many events were sent. */
export async function sendCorpus(
  port: number,
  ingestToken: string,
  ca: string,
  opts: { seed: number; generated: number; nowMs: number },
): Promise<CorpusCounts> {
  let events = 0;
  for (const items of generatedBatches(opts.seed, opts.generated, opts.nowMs, 50)) {
    await post(port, ingestToken, ca, JSON.stringify(toEventList(items)));
    events += items.length;
  }
  const recorded = apiserverEvents(60, { seed: opts.seed });
  const ours = [...scenarioEvents(opts.nowMs), ...secretEvents(opts.nowMs)];
  await post(port, ingestToken, ca, eventList(recorded));
  await post(port, ingestToken, ca, eventList(ours));
  return { events: events + recorded.length + ours.length };
}
