// Every worker thread kubetrail starts, started here as it is in `serve` (startWorker) but from
// the TypeScript sources, each asked one real question and checked against the same work done
// in this thread: the leaf hasher, the receive workers, the dedupe store writer, the index
// check, the index writer. (The bench's detection worker runs from the sources in test/detect-worker.test.ts.)
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { apiserverEvents, eventList } from "../../test/fixtures/audit/events.js";
import { checkIntegrity } from "../index/check.js";
import { INDEX_FILE, openIndex } from "../index/db.js";
import { startWorkerWriter } from "../index/index-writer.js";
import { rowBatch, rowsOfBatch } from "../index/row-batch.js";
import { keyOf } from "../ingest/dedupe.js";
import { RecordTable } from "../ingest/record-table.js";
import { startReceiver } from "../ingest/receive.js";
import { RunStore } from "../ingest/run-store/run-store.js";
import { bundleLeafHashes, joinEntries } from "../store/bundle-format.js";
import { LeafHasherPool } from "../store/leaf-hasher.js";
import { perfectTreeRoots } from "../tlog/index.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("worker threads started from the sources", () => {
  it("the leaf hasher hashes a bundle's lines and tile roots as this thread does", async () => {
    const pool = new LeafHasherPool(1);
    try {
      const bundle = joinEntries(Array.from({ length: 256 }, (_, i) => Buffer.from(`{"n":${i}}`)));
      const hashes = await pool.hash(bundle);
      expect(hex(hashes)).toBe(hex(bundleLeafHashes(bundle)));
      const roots = await pool.tileRoots(hashes.slice());
      expect(roots.map(hex)).toEqual([hex(perfectTreeRoots(hashes, 256))]);
    } finally {
      await pool.close();
    }
  });

  it("a receive worker prepares a webhook body as this thread does", async () => {
    const body = () => Buffer.from(eventList(apiserverEvents(20, { seed: 8 }) as never));
    const transform = { redaction: { key: new Uint8Array(32).fill(3) } };
    const inThread = startReceiver({ transform, threads: 0 });
    const worker = startReceiver({ transform, threads: 1 });
    try {
      const [here, there] = await Promise.all([inThread.receive(body()), worker.receive(body())]);
      expect(there.events.map((e) => [e.auditID, e.hash, hex(e.bytes)])).toEqual(
        here.events.map((e) => [e.auditID, e.hash, hex(e.bytes)]),
      );
    } finally {
      await inThread.close();
      await worker.close();
    }
  });

  it("the dedupe store writer writes a run this thread then reads", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "kt-workers-"));
    dirs.push(dir);
    const store = await RunStore.open(path.join(dir, "dedupe"), {
      origin: "workers.test",
      hash: "rfc6962-leaf",
    });
    try {
      const records = new RecordTable();
      const key = keyOf("audit-1", "ResponseComplete");
      records.add(key, "ab".repeat(32));
      await store.write(records, 1);
      const found: string[] = [];
      store.collect(key, found);
      expect(found).toEqual(["ab".repeat(32)]);
    } finally {
      await store.close();
    }
  });

  it("the index check passes a sound index file and names the damage in a broken one", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "kt-workers-"));
    dirs.push(dir);
    const { index } = openIndex(dir, { origin: "workers.test" });
    index.close();
    const file = path.join(dir, INDEX_FILE);
    expect(await checkIntegrity(file)).toBeUndefined();
    writeFileSync(file, Buffer.alloc(8192, 0x41));
    expect(await checkIntegrity(file)).toMatch(/SQLITE_NOTADB/);
  });

  it("the index writer writes the rows this thread makes of a batch", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "kt-workers-"));
    dirs.push(dir);
    const { index } = openIndex(dir, { origin: "workers.test" });
    const entries = apiserverEvents(20, { withTypeMeta: true }).map((e, i) => ({
      index: i,
      data: Buffer.from(JSON.stringify(e)),
    }));
    const batch = rowBatch(
      entries,
      entries.map((_, i) => new Uint8Array(32).fill(i)),
    );
    const died: Error[] = [];
    const writer = startWorkerWriter(dir, { checkpointsItself: true, onDied: (err) => died.push(err) });
    try {
      expect((await writer.write(batch, 20)).written).toBe(20);
      expect(index.position()).toBe(20);
      const fields = (r: {
        idx: number;
        user: string | null;
        verb: string | null;
        resource: string | null;
      }) => [r.idx, r.user, r.verb, r.resource];
      const here = rowsOfBatch(batch);
      expect(index.rowsAt(here.map((r) => r.idx)).map(fields)).toEqual(here.map(fields));
      expect(died).toEqual([]);
    } finally {
      await writer.close();
      index.close();
    }
  });
});
