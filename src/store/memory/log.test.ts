import { describe, expect, it } from "vitest";
import { hashLeaf, parseTilePath, tilePath } from "../../tlog/index.js";
import { openSnapshot } from "../storage.js";
import { entries, logConformance, readAll } from "../testdata/log-conformance.js";
import type { AuditLog } from "../types.js";
import { MemoryDriver, MemoryStore } from "./driver.js";
import { memoryStorage, openMemoryLog } from "./storage.js";
import { tempDir } from "../../../test/fixtures/audit/temp-dir.js";

function driverOf(log: AuditLog): MemoryDriver {
  return (log as AuditLog & { driver: MemoryDriver }).driver;
}

logConformance("memory", () => {
  const store = new MemoryStore();
  return {
    storage: memoryStorage(tempDir("kt-memlog-"), store),
    open: (opts) => openMemoryLog(store, opts),
    prune: async (log, before, reason) => driverOf(log).pruneBundles(before, reason),
    loseTiles: async (drop) => {
      for (const path of [...store.tiles.keys()]) {
        const parsed = parseTilePath(path);
        if (parsed.kind === "hash" && drop(parsed.tile)) store.tiles.delete(path);
      }
      store.tilesDurable = null;
    },
  };
});

describe("memory driver", () => {
  it("reports an erased entry as gone with its reason, keeps its leaf hash, and rebuilds past it", async () => {
    const store = new MemoryStore();
    let log = await openMemoryLog(store);
    await log.append(entries(0, 300));
    const cp = await log.waitIntegrated(300);
    await log.close();
    log = await openMemoryLog(store);
    driverOf(log).erase(5, "GDPR request 42");
    const around = await readAll(log, 4, 7);
    expect(around.map((e) => e.gone ?? Buffer.from(e.data).toString())).toEqual([
      entries(4, 1)[0]!.toString(),
      { state: "erased", reason: "GDPR request 42" },
      entries(6, 1)[0]!.toString(),
    ]);
    const bundle = await log.readEntryBundle(0, 256);
    expect(bundle && "erased" in bundle ? bundle.erased : undefined).toEqual(
      new Map([[5, "GDPR request 42"]]),
    );
    expect(Buffer.from(bundle!.data!).toString().split("\n")[5]).toBe("");
    const level0 = await log.readTile({ level: 0, index: 0, width: 256 });
    expect(Buffer.from(level0!.subarray(5 * 32, 6 * 32))).toEqual(Buffer.from(hashLeaf(entries(5, 1)[0]!)));
    await log.close();
    // Tiles lost but the level-0 one: the erased entry's leaf hash is there and nowhere else.
    for (const path of [...store.tiles.keys()])
      if (path !== tilePath({ level: 0, index: 0, width: 256 })) store.tiles.delete(path);
    store.tilesDurable = null;
    const reopened = await openMemoryLog(store);
    expect(Buffer.from(reopened.latestCheckpoint().rootHash)).toEqual(Buffer.from(cp.rootHash));
    expect((await openSnapshot(memoryStorage(tempDir("kt-memlog-"), store))).size()).toBe(300);
    await reopened.close();
  });
});
