// The dedupe store's writer on its own thread, as `serve` runs it. Workers load compiled
// JavaScript, so this test drives the built dist/ (the suite builds first): runs written and
// merged on the worker must be readable on this thread, and its failures must arrive with the
// code that tells the caller to rebuild.
import { createHash } from "node:crypto";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type * as RunStoreModule from "../src/ingest/run-store/run-store.js";
import type * as RecordTableModule from "../src/ingest/record-table.js";
import { tempDir } from "./fixtures/audit/temp-dir.js";

const DIST = join(import.meta.dirname, "../dist");
let RunStore: typeof RunStoreModule.RunStore;
let RecordTable: typeof RecordTableModule.RecordTable;

beforeAll(async () => {
  const load = async <T>(file: string) => (await import(pathToFileURL(join(DIST, file)).href)) as T;
  ({ RunStore } = await load<typeof RunStoreModule>("ingest/run-store/run-store.js"));
  ({ RecordTable } = await load<typeof RecordTableModule>("ingest/record-table.js"));
});

const ID = { origin: "example.com/log", hash: "rfc6962-leaf" };
const hashOf = (i: number): string => createHash("sha256").update(String(i)).digest("hex");
const printOf = (i: number) => ({ hi: Math.imul(i + 1, 0x9e3779b9) >>> 0, lo: i });

describe("dedupe store writer thread", () => {
  it("writes and merges runs on its thread, which this thread reads, and reopens them", async () => {
    const dir = tempDir("kt-store-worker-");
    const store = await RunStore.open(dir, ID);
    for (let f = 0; f < 8; f++) {
      const t = new RecordTable();
      for (let i = f * 500; i < (f + 1) * 500; i++) t.add(printOf(i), hashOf(i));
      await store.write(t, (f + 1) * 500);
      // Readable as soon as the write is acknowledged.
      const found: string[] = [];
      store.collect(printOf(f * 500 + 1), found);
      expect(found).toEqual([hashOf(f * 500 + 1)]);
    }
    await store.idle();
    expect(store.runs()).toEqual({ count: 1, records: 4000, filtered: true });
    for (const i of [0, 1999, 3999]) {
      const found: string[] = [];
      store.collect(printOf(i), found);
      expect(found).toEqual([hashOf(i)]);
    }
    await store.close();
    expect(readdirSync(dir)).toHaveLength(2); // the merged run and the manifest
    const again = await RunStore.open(dir, ID);
    expect(again.covered).toBe(4000);
    await again.close();
  });

  it("passes on a damaged store's code, so the caller rebuilds it", async () => {
    const dir = tempDir("kt-store-worker-");
    await (await RunStore.open(dir, ID)).close();
    writeFileSync(join(dir, "manifest.json"), "[]");
    await expect(RunStore.open(dir, ID)).rejects.toMatchObject({
      code: "store_corrupt",
      message: expect.stringMatching(
        /dedupe store open failed: .*manifest.json: not a kubetrail-dedupe-runs\/1 manifest/,
      ),
    });
  });
});
