// What redaction by value (src/secrets, docs/secrets.md) costs the receive path: webhook bodies
// of 400 generated events go through exactly what a receive worker does with them (scan, parse,
// normalise, ingest transform, stored bytes, leaf hashes) with detection by value on and off,
// side by side, in the same process, interleaved round by round. Three workloads: the
// generated events as they are (no credential: the raw pre-filter lets nearly all through),
// and with a credential planted in 1 and in 10 events of 100 (each such event is then looked
// at string by string, masked and encoded again).
import { randomBytes } from "node:crypto";
import type { AuditEvent } from "../src/audit/types.js";
import { receiveEventList } from "../src/ingest/normalize.js";
import { receiveBody, receiveContext, type ReceiveContext } from "../src/ingest/receive.js";
import { mayHoldCredential } from "../src/audit/redact/values.js";
import { SecretScanner } from "../src/secrets/index.js";
import { generateEvents, toEventList } from "./gen/events.js";
import { plantedSecrets } from "./gen/secrets.js";
import {
  bestOf,
  intOption,
  log,
  measure,
  type Measurement,
  parseBenchArgs,
  printNote,
  printTable,
  runIfMain,
} from "./harness.js";

const BATCH = 400;

/** Bodies of `count` events; every `every`-th event (0: none) carries a planted credential. */
function bodies(seed: number, count: number, every: number): Buffer[] {
  const planted = plantedSecrets(seed);
  const out: Buffer[] = [];
  let batch: AuditEvent[] = [];
  let i = 0;
  for (const ev of generateEvents({ seed, count })) {
    let e = ev;
    if (every > 0 && i % every === 0) {
      const p = planted[(i / every) % planted.length]!;
      e = { ...ev, annotations: { ...ev.annotations, [`example.com/${p.key ?? "note"}`]: p.value } };
    }
    batch.push(e);
    i++;
    if (batch.length === BATCH) {
      out.push(Buffer.from(JSON.stringify(toEventList(batch))));
      batch = [];
    }
  }
  if (batch.length > 0) out.push(Buffer.from(JSON.stringify(toEventList(batch))));
  return out;
}

/**
 * How many events pass the raw pre-filter (SecretScanner.mayContainSecrets): only those are
 * walked string by string, so false positives there are what detection costs beyond the scan.
 */
function passingPreFilter(all: readonly Buffer[]): number {
  const scanner = new SecretScanner();
  let passed = 0;
  for (const body of all) {
    const received = receiveEventList(body);
    received.events.forEach((_, i) => {
      const raw = received.raws?.[i];
      const bytes = raw?.bytes ?? received.entries[i];
      if (bytes === undefined || mayHoldCredential(scanner, bytes, raw?.members)) passed++;
    });
  }
  return passed;
}

function run(name: string, note: string, all: readonly Buffer[], events: number, ctx: ReceiveContext) {
  return measure(name, { items: events, note }, async () => {
    let stored = 0;
    // A copy per call: a receive worker is handed each body's memory, and nothing is shared.
    for (const b of all) stored += receiveBody(Buffer.from(b), ctx).events.length;
    if (stored !== events) throw new Error(`${name}: ${stored} of ${events} events prepared`);
  });
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const n = intOption(args, "events", args.quick ? 40_000 : 200_000);
  const rounds = intOption(args, "rounds", args.quick ? 5 : 7);
  const key = randomBytes(32);
  const on = receiveContext({ transform: { redaction: { key } } });
  const off = receiveContext({ transform: { redaction: { key, values: false } } });
  const workloads: [string, number][] = [
    ["no credentials", 0],
    ["1 in 100 events with a credential", 100],
    ["1 in 10 events with a credential", 10],
  ];
  for (const [workload, every] of workloads) {
    log(`secrets: ${workload}: generating ${n} events`);
    const all = bodies(7, n, every);
    const runs = new Map<string, Measurement[]>();
    for (let r = 0; r < rounds; r++) {
      // Alternating which goes first: the machine is shared, and a neighbour only adds time.
      const order: [string, ReceiveContext][] = [
        ["value detection off", off],
        ["value detection on", on],
      ];
      if (r % 2 === 1) order.reverse();
      for (const [name, ctx] of order)
        runs.set(name, [...(runs.get(name) ?? []), await run(name, workload, all, n, ctx)]);
    }
    const rows = ["value detection off", "value detection on"].map((name) => bestOf(runs.get(name)!));
    printTable(`Receive path (scan, parse, normalise, transform, bytes, leaf hash): ${workload}`, rows, {
      baseline: "value detection off",
      unit: "events",
    });
    const [base, with_] = rows as [Measurement, Measurement];
    const perEvent = (m: Measurement): number => (m.cpuS / n) * 1e6;
    printNote(
      `${workload}: ${passingPreFilter(all).toLocaleString("en-US")} of ${n.toLocaleString("en-US")} events pass the raw pre-filter; ` +
        `+${(perEvent(with_) - perEvent(base)).toFixed(2)} µs of CPU per event over ` +
        `${perEvent(base).toFixed(2)} µs (${((100 * (with_.cpuS - base.cpuS)) / base.cpuS).toFixed(1)}% of the receive path; ` +
        `best of ${rounds} interleaved rounds, median CPU).`,
    );
  }
  printNote(
    "The receive path is the part of ingest detection by value adds to; `bench webhook` gives the whole " +
      "per-event CPU of `serve` (TLS, HTTP, dedupe, append, fsync, tiles, checkpoints) with it on and off.",
  );
}

runIfMain(import.meta.url, main);
