import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { crc32 } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { emptyTreeHash, hashLeaf } from "../tlog/index.js";
import { CheckpointStore, type StoredCheckpoint } from "./checkpoint-store.js";

describe("CheckpointStore journal", () => {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-cpstore-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // Origins and notes are UTF-8 text: a record's checksum must be over the bytes written.
  const key = "lög.example/ünïcode — 日本";
  const record = (size: number): StoredCheckpoint => ({
    size,
    rootHash: size === 0 ? emptyTreeHash() : hashLeaf(new Uint8Array([size])),
    note: `${key}\n${size}\nroot\n\n— ${key} c2lnbmF0dXJl\n`,
  });

  it("writes one checksummed UTF-8 line per record and reads non-ASCII records back", async () => {
    let store = await CheckpointStore.open(dir, "cosigned");
    for (const size of [0, 3, 7])
      await store.update(key, async () => ({ record: record(size), result: null }));
    await store.update("plain.example/log", async () => ({ record: record(5), result: null }));
    await store.close();

    const journal = readFileSync(path.join(dir, "cosigned.journal"));
    const lines = journal.toString("utf8").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines).toHaveLength(4);
    let at = 0;
    for (const line of lines) {
      const bytes = journal.subarray(at, at + Buffer.byteLength(line));
      at += bytes.length + 1;
      const body = bytes.subarray(9);
      expect(bytes.subarray(0, 9).toString("latin1")).toBe(`${crc32(body).toString(16).padStart(8, "0")} `);
      expect(JSON.parse(body.toString("utf8"))).toMatchObject({
        k: expect.any(String),
        n: expect.any(String),
      });
    }

    store = await CheckpointStore.open(dir, "cosigned");
    expect(store.get(key)).toEqual(record(7));
    expect(store.get("plain.example/log")).toEqual(record(5));
    await store.close();
  });

  it("refuses to open over a damaged record that is not the last", async () => {
    const store = await CheckpointStore.open(dir, "cosigned");
    await store.update(key, async () => ({ record: record(3), result: null }));
    await store.update(key, async () => ({ record: record(7), result: null }));
    await store.close();
    const file = path.join(dir, "cosigned.journal");
    // One byte of the first record's multi-byte origin changed: its checksum no longer matches.
    const bytes = readFileSync(file);
    const at = bytes.indexOf(Buffer.from("ö"));
    bytes[at + 1] = bytes[at + 1]! ^ 0x01;
    writeFileSync(file, bytes);
    await expect(CheckpointStore.open(dir, "cosigned")).rejects.toThrow(/line 1 is damaged/);
  });
});
