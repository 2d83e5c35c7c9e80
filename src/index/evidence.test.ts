import { describe, expect, it } from "vitest";
import { MemoryStore } from "../store/memory/driver.js";
import { openMemoryLog } from "../store/memory/storage.js";
import { generateNoteKey, hashLeaf } from "../tlog/index.js";
import { buildBundle, verifyBundle, type EvidenceBundle } from "./evidence.js";
import { rowFromEntry } from "./row.js";

const ORIGIN = "evidence-test.example/log";
const data = Array.from({ length: 13 }, (_, i) => Buffer.from(JSON.stringify({ n: i, note: "é" })));
const leaves = data.map((d) => hashLeaf(d));

// A log of 13 entries in memory, signed by a fresh key: buildBundle only reads through LogReader.
const store = new MemoryStore(ORIGIN);
const key = { verifierKey: store.verifierKey };
const log = await openMemoryLog(store);
await log.append(data);
await log.waitIntegrated(data.length);
await log.close();

async function bundleOf(indexes: number[]): Promise<EvidenceBundle> {
  const entries = indexes.map((i) => ({
    row: rowFromEntry(i, data[i] as Buffer, leaves[i] as Uint8Array),
    value: JSON.parse((data[i] as Buffer).toString()) as unknown,
    data: data[i] as Buffer,
  }));
  return buildBundle(log, entries, { user: ["x"] }, new Date("2026-11-21T00:00:00Z"));
}

describe("evidence bundles", () => {
  it("round-trip: every entry verifies with the log's key", async () => {
    const b = await bundleOf([0, 5, 12]);
    expect(b.version).toBe(1);
    expect(b.entries[1]?.entry).toBe('{"n":5,"note":"é"}');
    const report = verifyBundle(JSON.parse(JSON.stringify(b)), key.verifierKey);
    expect(report).toMatchObject({ ok: true, verified: 3, treeSize: 13, origin: ORIGIN, failures: [] });
  });

  it("names each altered item and leaves the others verified", async () => {
    const b = await bundleOf([0, 5, 12]);
    (b.entries[1] as { entry: string }).entry = '{"n":5,"note":"e"}';
    (b.entries[2] as { index: number }).index = 13;
    const report = verifyBundle(b, key.verifierKey);
    expect(report.ok).toBe(false);
    expect(report.verified).toBe(1);
    expect(report.failures).toEqual([
      { item: 1, index: 5, message: expect.stringMatching(/inclusion proof does not verify/) },
      { item: 2, index: 13, message: "index 13 is beyond the checkpoint's tree size 13" },
    ]);
  });

  it("rejects unknown versions, foreign keys and bad signatures as a whole", async () => {
    const b = await bundleOf([3]);
    expect(verifyBundle({ ...b, version: 2 }, key.verifierKey).failures[0]?.message).toMatch(
      /version 2 is not supported/,
    );
    expect(verifyBundle(b, generateNoteKey("other.example/log").verifierKey).failures[0]?.message).toMatch(
      /bundle is for key "evidence-test.example\/log"/,
    );
    expect(verifyBundle(b, generateNoteKey(ORIGIN).verifierKey).failures[0]?.message).toMatch(
      /^checkpoint: /,
    );
    expect(verifyBundle(b, "not a key").failures[0]?.message).toMatch(/^verifier key: /);
    expect(verifyBundle([], key.verifierKey).ok).toBe(false);
  });
});
