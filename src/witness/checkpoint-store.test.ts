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

  /** The journal's file and bytes after records of `sizes` for `key`, one update (one group) each. */
  const journalAfter = async (sizes: number[]): Promise<{ file: string; bytes: Buffer }> => {
    const store = await CheckpointStore.open(dir, "cosigned");
    for (const size of sizes) await store.update(key, async () => ({ record: record(size), result: null }));
    await store.close();
    const file = path.join(dir, "cosigned.journal");
    return { file, bytes: readFileSync(file) };
  };

  it("writes one checksummed UTF-8 line per record and reads non-ASCII records back", async () => {
    let store = await CheckpointStore.open(dir, "cosigned");
    for (const size of [0, 3, 7])
      await store.update(key, async () => ({ record: record(size), result: null }));
    await store.update("plain.example/log", async () => ({ record: record(5), result: null }));
    await store.close();

    const file = readFileSync(path.join(dir, "cosigned.journal"));
    // Written in place in a zero-filled file: the records, then zeros to the preallocated size.
    const journal = file.subarray(0, file.indexOf(0));
    expect(file.length).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(file.subarray(journal.length).every((b) => b === 0)).toBe(true);
    const lines = journal.toString("utf8").split("\n");
    expect(lines.pop()).toBe("");
    expect(lines).toHaveLength(4);
    let at = 0;
    const groups: number[] = [];
    for (const line of lines) {
      const bytes = journal.subarray(at, at + Buffer.byteLength(line));
      at += bytes.length + 1;
      const body = bytes.subarray(9);
      expect(bytes.subarray(0, 9).toString("latin1")).toBe(`${crc32(body).toString(16).padStart(8, "0")} `);
      const json = JSON.parse(body.toString("utf8")) as { g: number };
      expect(json).toMatchObject({ g: expect.any(Number), k: expect.any(String), n: expect.any(String) });
      groups.push(json.g);
    }
    // One update at a time: one group each, numbered upwards.
    expect(groups).toEqual([1, 2, 3, 4]);

    store = await CheckpointStore.open(dir, "cosigned");
    expect(store.get(key)).toEqual(record(7));
    expect(store.get("plain.example/log")).toEqual(record(5));
    await store.close();
  });

  it("refuses to open over a damaged record that is not the last", async () => {
    const { file, bytes } = await journalAfter([3, 7]);
    // One byte of the first record's multi-byte origin changed: its checksum no longer matches.
    const at = bytes.indexOf(Buffer.from("ö"));
    bytes[at + 1] = bytes[at + 1]! ^ 0x01;
    writeFileSync(file, bytes);
    await expect(CheckpointStore.open(dir, "cosigned")).rejects.toThrow(/line 1 is damaged/);
  });

  const journalLine = (json: object): string => {
    const text = JSON.stringify(json);
    return `${crc32(text).toString(16).padStart(8, "0")} ${text}\n`;
  };
  /** A journal line: of group g with c lines, or unnumbered (an earlier version's). */
  const lineOf = (key: string, r: StoredCheckpoint, g?: number, c = 1): string =>
    journalLine({
      ...(g === undefined ? {} : { g, c }),
      k: key,
      s: r.size,
      r: Buffer.from(r.rootHash).toString("base64"),
      n: r.note,
    });

  it("starts the journal again from its beginning after a fold, and never reads the older lines back", async () => {
    let store = await CheckpointStore.open(dir, "cosigned", { compactBytes: 2000 });
    for (let size = 1; size <= 40; size++)
      await store.update(size % 2 ? key : "other.example/log", async () => ({
        record: record(size),
        result: null,
      }));
    // The last of these folded the journal; one more record goes to its beginning.
    await store.update(key, async () => ({ record: record(41), result: null }));
    await store.close();
    const file = readFileSync(path.join(dir, "cosigned.journal"));
    const snapshot = JSON.parse(readFileSync(path.join(dir, "cosigned.snapshot"), "utf8")) as {
      version: number;
      next: number;
    };
    expect(snapshot.version).toBe(2);
    // Older lines (numbered below the snapshot's next) lie after the records now at the start.
    const text = file.toString("latin1");
    const numbers = [...text.matchAll(/"g":(\d+)/g)].map((m) => Number(m[1]));
    expect(numbers.some((g) => g < snapshot.next)).toBe(true);
    expect(numbers[0]).toBeGreaterThanOrEqual(snapshot.next);

    const repairs: string[] = [];
    store = await CheckpointStore.open(dir, "cosigned", {
      compactBytes: 2000,
      onRepair: (m) => repairs.push(m),
    });
    expect(store.get(key)).toEqual(record(41));
    expect(store.get("other.example/log")).toEqual(record(40));
    expect(repairs).toEqual([]);
    await store.update(key, async () => ({ record: record(43), result: null }));
    await store.close();
    store = await CheckpointStore.open(dir, "cosigned", { compactBytes: 2000 });
    expect(store.get(key)).toEqual(record(43));
    await store.close();
  });

  it("cuts off a torn last group, holes and all, and zeroes what it left", async () => {
    const { file: name, bytes } = await journalAfter([3, 5]);
    const end = bytes.indexOf(0);
    // Group 3, torn: its first line never reached the disk (zeros), its second did, whole.
    const first = lineOf(key, record(9), 3, 2);
    const second = lineOf("other.example/log", record(4), 3, 2);
    Buffer.from(second, "utf8").copy(bytes, end + Buffer.byteLength(first));
    writeFileSync(name, bytes);
    const repairs: string[] = [];
    const store = await CheckpointStore.open(dir, "cosigned", { onRepair: (m) => repairs.push(m) });
    expect(store.get(key)).toEqual(record(5));
    expect(store.get("other.example/log")).toBeUndefined();
    expect(repairs).toEqual([
      expect.stringMatching(/cut off a torn last group \(line 3 on, never acknowledged\)/),
    ]);
    await store.close();
    const after = readFileSync(name);
    expect(after.subarray(end).every((b) => b === 0)).toBe(true);
  });

  it("refuses to open when a later group follows a damaged one", async () => {
    const { file: name, bytes } = await journalAfter([3, 5]);
    const end = bytes.indexOf(0);
    // Group 2 (the last written) damaged and group 3 after it: not a tear.
    bytes[bytes.lastIndexOf(Buffer.from('"s":5'), end) + 4] = 0x36;
    Buffer.from(lineOf(key, record(8), 3), "utf8").copy(bytes, end);
    writeFileSync(name, bytes);
    await expect(CheckpointStore.open(dir, "cosigned")).rejects.toThrow(/line 2 is damaged/);
  });

  it("reads a journal from before groups were numbered and folds it into the snapshot", async () => {
    const name = path.join(dir, "cosigned.journal");
    writeFileSync(
      path.join(dir, "cosigned.snapshot"),
      JSON.stringify({
        version: 1,
        records: {
          "old.example/log": {
            s: 2,
            r: Buffer.from(record(2).rootHash).toString("base64"),
            n: record(2).note,
          },
        },
      }) + "\n",
    );
    writeFileSync(name, lineOf(key, record(3)) + lineOf(key, record(6)) + '1234abcd {"k":"torn');
    const repairs: string[] = [];
    let store = await CheckpointStore.open(dir, "cosigned", { onRepair: (m) => repairs.push(m) });
    expect(repairs).toEqual([expect.stringMatching(/cut off a torn last record \(line 3/)]);
    expect(store.get(key)).toEqual(record(6));
    expect(store.get("old.example/log")).toEqual(record(2));
    const snapshot = JSON.parse(readFileSync(path.join(dir, "cosigned.snapshot"), "utf8")) as {
      version: number;
    };
    expect(snapshot.version).toBe(2);
    expect(readFileSync(name).every((b) => b === 0)).toBe(true);
    await store.update(key, async () => ({ record: record(7), result: null }));
    await store.close();
    store = await CheckpointStore.open(dir, "cosigned");
    expect(store.get(key)).toEqual(record(7));
    expect(store.get("old.example/log")).toEqual(record(2));
    await store.close();
  });

  it("refuses to open when a group lacks a line and a later group follows", async () => {
    const store = await CheckpointStore.open(dir, "cosigned");
    // Three logs at once: the first goes alone (group 1), the two that wait for its sync go
    // together (group 2, two lines); then one more group.
    await Promise.all(
      [key, "other.example/log", "third.example/log"].map((k) =>
        store.update(k, async () => ({ record: record(3), result: null })),
      ),
    );
    await store.update(key, async () => ({ record: record(5), result: null }));
    await store.close();
    const name = path.join(dir, "cosigned.journal");
    const bytes = readFileSync(name);
    const text = bytes.subarray(0, bytes.indexOf(0)).toString("utf8");
    expect(text.match(/"g":2,"c":2/g)).toHaveLength(2);
    // The second line of group 2 damaged: group 3 after it was acknowledged, so this is no tear.
    const second = bytes.indexOf(Buffer.from('"g":2,"c":2'), bytes.indexOf(Buffer.from('"g":2,"c":2')) + 1);
    bytes[second + 4] = 0x37;
    writeFileSync(name, bytes);
    await expect(CheckpointStore.open(dir, "cosigned")).rejects.toThrow(/line 3 is damaged/);
  });
});
