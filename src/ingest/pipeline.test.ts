import path from "node:path";
import { mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { apiserverEvents } from "../../test/fixtures/audit/events.js";
import { KUBETRAIL_ANNOTATIONS, type AuditEvent } from "../audit/types.js";
import type { AuditLog } from "../store/types.js";
import { conflictAnnotationValue, contentHash, Deduper, keyOf, recordFromEntry } from "./dedupe.js";
import { encodeEvent, normalizeEvent } from "./normalize.js";
import { createPipeline, IngestBusyError, type IngestPipeline } from "./pipeline.js";
import { prepareEvents } from "./prepare.js";
import { RecordTable } from "./record-table.js";
import { RunStore } from "./run-store/run-store.js";
import { tempDir } from "../../test/fixtures/audit/temp-dir.js";
import { openLogIn } from "../../test/fixtures/memory-log.js";

const open: { log: AuditLog; deduper: Deduper }[] = [];

async function setup(dir = tempDir("kt-pipeline-")) {
  const log = await openLogIn(dir, { integrateIntervalMs: 50 });
  const deduper = await Deduper.open(path.join(dir, "dedupe"), log);
  const pipeline: IngestPipeline = createPipeline({ log, deduper });
  const handle = { log, deduper };
  open.push(handle);
  return {
    dir,
    log,
    deduper,
    pipeline,
    async close() {
      await pipeline.drain();
      await deduper.close();
      await log.close();
      open.splice(open.indexOf(handle), 1);
    },
  };
}

afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.deduper.close();
    await h.log.close();
  }
});

function events(count: number, seed = 1): AuditEvent[] {
  return apiserverEvents(count, { seed }).map((e, i) => normalizeEvent(e, `items[${i}]`, "audit.k8s.io/v1"));
}

async function entries(log: AuditLog): Promise<string[]> {
  const out: string[] = [];
  for await (const e of log.readEntries(0, log.size())) out.push(Buffer.from(e.data!).toString("utf8"));
  return out;
}

describe("ingest pipeline", () => {
  it("tells stored-listeners each durable batch with its log indexes, exactly as stored", async () => {
    const s = await setup();
    const told: {
      firstIndex: number;
      events: readonly (AuditEvent | Uint8Array)[];
      sizes: readonly number[];
    }[] = [];
    const stop = s.pipeline.onStored((firstIndex, evs, sizes) =>
      told.push({ firstIndex, events: evs, sizes }),
    );
    const batch = events(20);
    const changed = { ...batch[3]!, verb: "patch" }; // same (auditID, stage), new content
    await Promise.all([s.pipeline.ingest(batch.slice(0, 10)), s.pipeline.ingest(batch.slice(10))]);
    await s.pipeline.ingest([batch[0]!, changed]); // a duplicate (not told) and a conflict
    stop();
    await s.pipeline.ingest(events(3, 2));
    const stored = await entries(s.log);
    const byIndex = new Map<number, string>();
    for (const t of told)
      t.events.forEach((e, i) => {
        // Events prepared in this thread are told parsed.
        expect(e).not.toBeInstanceOf(Uint8Array);
        byIndex.set(t.firstIndex + i, encodeEvent(e as AuditEvent).toString());
      });
    expect(byIndex.size).toBe(21); // the 3 after unsubscribing are not told
    for (const [index, text] of byIndex) expect(text).toBe(stored[index]);
    for (const t of told)
      t.sizes.forEach((n, i) => expect(n).toBe(Buffer.byteLength(stored[t.firstIndex + i]!)));
    expect(JSON.parse(byIndex.get(20)!).annotations[KUBETRAIL_ANNOTATIONS.conflict]).toBeDefined();
    await s.close();
  });

  it("stores events prepared elsewhere (bytes only) as if prepared here, flags conflicts from the bytes", async () => {
    const here = await setup();
    const there = await setup();
    const [a, b] = events(2);
    const changed = { ...a!, responseStatus: { metadata: {}, code: 500 } };
    // What a receive worker hands over: no parsed events, only keys, bytes and hashes.
    const bytesOnly = (evs: AuditEvent[]) => {
      const batch = prepareEvents(evs);
      return { ...batch, events: batch.events.map(({ event: _parsed, ...rest }) => rest) };
    };
    const told: (AuditEvent | Uint8Array)[] = [];
    there.pipeline.onStored((_first, stored) => told.push(...stored));
    const batches = [
      [a!, b!, a!],
      [changed, b!],
    ];
    for (const batch of batches) {
      const r1 = await here.pipeline.ingest(batch);
      const r2 = await there.pipeline.ingestPrepared(bytesOnly(batch));
      expect(r2).toEqual(r1);
    }
    expect(await entries(there.log)).toEqual(await entries(here.log));
    expect((await entries(there.log)).length).toBe(3);
    expect(JSON.parse((await entries(there.log))[2]!).annotations[KUBETRAIL_ANNOTATIONS.conflict]).toBe(
      conflictAnnotationValue(contentHash(encodeEvent(changed))),
    );
    // Listeners get the bytes of what came as bytes, and the event where one was parsed (the flag).
    expect(told.map((t) => t instanceof Uint8Array)).toEqual([true, true, false]);
    await here.close();
    await there.close();
  });

  it("stores a batch once and drops an identical retry", async () => {
    const s = await setup();
    const batch = events(50);
    expect(await s.pipeline.ingest(batch)).toMatchObject({
      received: 50,
      stored: 50,
      duplicates: 0,
      conflicts: 0,
    });
    expect(await s.pipeline.ingest(batch)).toMatchObject({ received: 50, stored: 0, duplicates: 50 });
    const stored = await entries(s.log);
    expect(stored).toEqual(batch.map((e) => Buffer.from(encodeEvent(e)).toString()));
  });

  it("drops repeats inside one batch and flags different content under the same key", async () => {
    const s = await setup();
    const [a, b] = events(2);
    const changed = { ...a!, responseStatus: { metadata: {}, code: 500 } };
    const r = await s.pipeline.ingest([a!, a!, b!, changed]);
    expect(r).toMatchObject({ stored: 3, duplicates: 1, conflicts: 1 });
    const stored = await entries(s.log);
    const flagged = JSON.parse(stored[2]!) as AuditEvent;
    expect(flagged.annotations?.[KUBETRAIL_ANNOTATIONS.conflict]).toBe(
      conflictAnnotationValue(contentHash(encodeEvent(changed))),
    );
    // The flagged event's content is kept otherwise unchanged.
    expect(flagged.responseStatus).toEqual({ metadata: {}, code: 500 });
    // Retrying the conflicting version is an identical repeat of it, not a third entry.
    expect(await s.pipeline.ingest([changed, a!])).toMatchObject({ stored: 0, duplicates: 2 });
  });

  it("stores each event once when the same batch arrives concurrently", async () => {
    const s = await setup();
    const batch = events(400, 7);
    const results = await Promise.all([
      s.pipeline.ingest(batch),
      s.pipeline.ingest(batch),
      s.pipeline.ingest(batch.slice(100, 300)),
    ]);
    expect(results.reduce((n, r) => n + r.stored, 0)).toBe(400);
    expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(400 + 200);
    expect(s.log.size()).toBe(400);
  });

  it("remembers stored events across a restart and rebuilds a lost dedupe store from the log", async () => {
    const s = await setup();
    const batch = events(300, 3);
    await s.pipeline.ingest(batch.slice(0, 200));
    await s.close();
    const again = await setup(s.dir);
    expect(again.deduper.covered()).toBe(200);
    expect(await again.pipeline.ingest(batch)).toMatchObject({ stored: 100, duplicates: 200 });
    await again.close();
    rmSync(path.join(s.dir, "dedupe"), { recursive: true });
    const rebuilt = await setup(s.dir);
    expect(rebuilt.deduper.covered()).toBe(300);
    expect(await rebuilt.pipeline.ingest(batch)).toMatchObject({ stored: 0, duplicates: 300 });
  });

  it("rebuilds a lost dedupe store on a log whose old bundles were pruned, from what is left", async () => {
    const s = await setup();
    const batch = events(600, 5);
    expect(await s.pipeline.ingest(batch)).toMatchObject({ stored: 600 });
    await s.log.waitIntegrated(600);
    await s.close();
    rmSync(path.join(s.dir, "dedupe"), { recursive: true });
    const pruning = await openLogIn(s.dir);
    pruning.driver.pruneBundles(512, "retention");
    await pruning.close();
    const rebuilt = await setup(s.dir);
    expect(rebuilt.deduper.covered()).toBe(600);
    // The events still in the log are known; those pruned away are not (they would be stored again).
    expect(await rebuilt.pipeline.ingest(batch.slice(512))).toMatchObject({ stored: 0, duplicates: 88 });
    expect(await rebuilt.pipeline.ingest(batch.slice(0, 10))).toMatchObject({ stored: 10, duplicates: 0 });
  });

  it("keeps dedupe records whose write to the store failed, still drops their repeats, and writes them later", async () => {
    const s = await setup();
    const batch = events(100, 11);
    // A directory where the first flush's run file goes: that write fails (as on a full disk);
    // the retry writes the next run number.
    const manifest = () =>
      JSON.parse(readFileSync(path.join(s.dir, "dedupe", "manifest.json"), "utf8")) as {
        next: number;
        runs: { records: number }[];
      };
    mkdirSync(path.join(s.dir, "dedupe", `${String(manifest().next).padStart(12, "0")}.run`));
    const failed = new Promise<unknown>((resolve) => (s.deduper.onFlushError = resolve));
    expect(await s.pipeline.ingest(batch)).toMatchObject({ stored: 100 });
    expect(String(await failed)).toMatch(/dedupe store write failed: EEXIST/);
    // The records went back to those waiting for the writer, and are still consulted.
    expect(await s.pipeline.ingest(batch)).toMatchObject({ stored: 0, duplicates: 100 });
    await s.close();
    expect(manifest().runs.reduce((n, r) => n + r.records, 0)).toBe(100);
    const again = await setup(s.dir);
    expect(again.deduper.covered()).toBe(100);
    expect(await again.pipeline.ingest(batch)).toMatchObject({ stored: 0, duplicates: 100 });
  }, 30_000);

  it("rebuilds a dedupe store whose hashes are of another kind (SHA-256 of the bytes, before the leaf hash)", async () => {
    const s = await setup();
    const batch = events(50, 6);
    await s.pipeline.ingest(batch);
    await s.close();
    // What a store written before the content hash became the leaf hash holds: the same keys,
    // other hashes, covering the whole log.
    rmSync(path.join(s.dir, "dedupe"), { recursive: true });
    const log = await openLogIn(s.dir);
    const old = await RunStore.open(path.join(s.dir, "dedupe"), { origin: log.origin, hash: "sha256" });
    const records = new RecordTable();
    for (const e of batch) records.add(keyOf(e.auditID, e.stage), contentHash(Buffer.from(e.auditID)));
    await old.write(records, log.size());
    await old.close();
    await log.close();
    const again = await setup(s.dir);
    // Kept as it was, every repeat would look like new content under a known key: stored, flagged.
    expect(await again.pipeline.ingest(batch)).toMatchObject({ stored: 0, duplicates: 50, conflicts: 0 });
  });

  it("tells how far a new dedupe store has caught up with a long log, and nothing for a short one", async () => {
    const dir = tempDir("kt-pipeline-");
    const log = await openLogIn(dir, { integrateIntervalMs: 50 });
    const lines = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => Buffer.from(JSON.stringify({ n: from + i })));
    await log.append(lines(0, 20_000));
    const told: [number, number][] = [];
    const deduper = await Deduper.open(path.join(dir, "dedupe"), log, (done, total) =>
      told.push([done, total]),
    );
    expect(told).toEqual([
      [16_384, 20_000],
      [20_000, 20_000],
    ]);
    await deduper.close();
    await log.append(lines(20_000, 10));
    told.length = 0;
    const reopened = await Deduper.open(path.join(dir, "dedupe"), log, (done, total) =>
      told.push([done, total]),
    );
    expect(told).toEqual([]);
    await reopened.close();
    await log.close();
  });

  it("rebuilds conflict-flagged entries under their original content hash", async () => {
    const [a] = events(1);
    const changed = { ...a!, verb: "delete" };
    const bytes = encodeEvent({
      ...changed,
      annotations: {
        ...changed.annotations,
        [KUBETRAIL_ANNOTATIONS.conflict]: conflictAnnotationValue("ab".repeat(32)),
      },
    });
    expect(recordFromEntry(bytes)).toEqual({ auditID: a!.auditID, stage: a!.stage, hash: "ab".repeat(32) });
    expect(recordFromEntry(encodeEvent(a!))).toEqual({
      auditID: a!.auditID,
      stage: a!.stage,
      hash: contentHash(encodeEvent(a!)),
    });
    expect(recordFromEntry(Buffer.from('{"kind":"Alert","apiVersion":"kubetrail.dev/v1"}'))).toBeUndefined();
  });

  it("removes a conflict flag that arrives with the event", async () => {
    const s = await setup();
    const a = events(2)[1]; // a ResponseComplete event, which carries annotations
    expect(a!.annotations).toBeDefined();
    const forged = {
      ...a!,
      annotations: { ...a!.annotations, [KUBETRAIL_ANNOTATIONS.conflict]: "sha256:00" },
    };
    await s.pipeline.ingest([forged]);
    expect(await entries(s.log)).toEqual([Buffer.from(encodeEvent(a!)).toString()]);
  });

  it("drops events the transform drops and counts them", async () => {
    const dir = tempDir("kt-pipeline-");
    const s = await setup(dir);
    const p = createPipeline({
      log: s.log,
      deduper: s.deduper,
      transform: (e) => (e.verb === "list" ? null : e),
    });
    const batch = events(20);
    const r = await p.ingest(batch);
    expect(r.dropped).toBe(batch.filter((e) => e.verb === "list").length);
    expect(r.stored).toBe(20 - r.dropped);
  });

  it("refuses a batch with 429-style IngestBusyError while too much is waiting for the disk", async () => {
    const s = await setup();
    const p = createPipeline({ log: s.log, deduper: s.deduper, maxInflightBytes: 1 });
    const first = p.ingest(events(10, 21));
    // The first batch's append is still in flight, so the second exceeds the bound.
    await expect(p.ingest(events(10, 22))).rejects.toBeInstanceOf(IngestBusyError);
    expect((await first).stored).toBe(10);
    expect((await p.ingest(events(10, 22))).stored).toBe(10);
  });

  it("rebuilds an unreadable dedupe store from the log", async () => {
    const s = await setup();
    const batch = events(30, 31);
    await s.pipeline.ingest(batch);
    await s.close();
    writeFileSync(path.join(s.dir, "dedupe", "manifest.json"), "this is not a manifest");
    // Said, not silent: an operator sees why a long catch-up runs.
    const told: string[] = [];
    const probe = await openLogIn(s.dir);
    await (await Deduper.open(path.join(s.dir, "dedupe"), probe, undefined, (r) => told.push(r))).close();
    await probe.close();
    expect(told).toEqual(["dedupe store open failed: dedupe store manifest.json: not JSON"]);
    writeFileSync(path.join(s.dir, "dedupe", "manifest.json"), "this is not a manifest");
    const again = await setup(s.dir);
    expect(again.deduper.covered()).toBe(30);
    expect(await again.pipeline.ingest(batch)).toMatchObject({ stored: 0, duplicates: 30 });
  });

  it("rebuilds a dedupe store whose run file was cut short", async () => {
    const s = await setup();
    const batch = events(30, 32);
    await s.pipeline.ingest(batch);
    await s.close();
    const dir = path.join(s.dir, "dedupe");
    const { runs } = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8")) as {
      runs: { name: string }[];
    };
    expect(runs).toHaveLength(1);
    truncateSync(path.join(dir, runs[0]!.name), 100);
    const again = await setup(s.dir);
    expect(await again.pipeline.ingest(batch)).toMatchObject({ stored: 0, duplicates: 30 });
  });

  it("refuses a pathologically nested event as bad input, storing nothing of the batch", async () => {
    const s = await setup();
    const [a, b] = events(2, 41);
    const deep = { ...b!, requestObject: JSON.parse("[".repeat(100_000) + "]".repeat(100_000)) as unknown };
    await expect(s.pipeline.ingest([a!, deep])).rejects.toThrow(
      `event 1 (auditID ${b!.auditID}): too deeply nested to process`,
    );
    expect(s.log.size()).toBe(0);
  });
});
