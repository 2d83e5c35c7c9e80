// The tamper matrix: every way of rewriting history that kubetrail promises to detect,
// each checked through the real `kubetrail verify` command.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compressBundle } from "../src/store/bundle-codec.js";
import { openFsLog } from "../src/store/fs/storage.js";
import { FsLayout } from "../src/store/fs/layout.js";
import { generateNoteKey, NoteSigner, parseCheckpoint, signCheckpoint } from "../src/tlog/index.js";
import { CLI } from "./fixtures/cli.js";

const root = mkdtempSync(path.join(os.tmpdir(), "kt-tamper-"));
const pristine = path.join(root, "pristine");
let vkey = "";
let oldCheckpoint = "";
const SIZE = 700;

const event = (i: number) =>
  JSON.stringify({
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "Metadata",
    auditID: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    stage: "ResponseComplete",
    verb: i % 7 === 0 ? "delete" : "get",
    user: { username: `user-${i % 13}` },
  });

beforeAll(async () => {
  // Bundles stay plain here, so the cases can edit their lines; the compressed cases compress a copy.
  const log = await openFsLog(pristine, { origin: "example.com/tamper", compressLevel: null });
  await log.append(Array.from({ length: 500 }, (_, i) => Buffer.from(event(i))));
  await log.waitIntegrated(500);
  oldCheckpoint = path.join(root, "checkpoint-500");
  writeFileSync(oldCheckpoint, log.latestCheckpoint().note);
  await log.append(Array.from({ length: SIZE - 500 }, (_, i) => Buffer.from(event(500 + i))));
  await log.waitIntegrated(SIZE);
  vkey = log.verifierKey;
  await log.close();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function copy(): { dir: string; layout: FsLayout } {
  const dir = path.join(root, `case-${n++}`);
  cpSync(pristine, dir, { recursive: true });
  return { dir, layout: new FsLayout(dir) };
}

function verify(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, "verify", ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout + r.stderr };
}

function editLines(file: string, edit: (lines: string[]) => string[]): void {
  const lines = readFileSync(file, "utf8").split("\n").slice(0, -1);
  writeFileSync(file, edit(lines).join("\n") + "\n");
}

/** Re-signs `dir`'s checkpoint (or a given one) with `skey`, as an operator holding the key could. */
async function resign(dir: string, skey: string, size?: number, rootHash?: Uint8Array): Promise<void> {
  const cp = parseCheckpoint(readFileSync(path.join(dir, "checkpoint"), "utf8").split("\n\n")[0] + "\n");
  const signed = await signCheckpoint(
    { ...cp, size: size ?? cp.size, rootHash: rootHash ?? cp.rootHash },
    NoteSigner.fromKey(skey),
  );
  writeFileSync(path.join(dir, "checkpoint"), signed);
}

describe("kubetrail verify detects tampering", () => {
  it("passes on the untouched log with the pinned key, and proves it extends an older checkpoint", () => {
    const r = verify("--data", pristine, "--key", vkey, "--from", oldCheckpoint);
    expect(r.out).toMatch(/^OK: .* 700 entries/);
    expect(r.out).toMatch(/extends the trusted checkpoint of size 500/);
    expect(r.code).toBe(0);
  });

  it("one byte changed in an entry: names the entry and its auditID", () => {
    const { dir, layout } = copy();
    editLines(layout.bundle(1), (l) =>
      l.map((line, i) => (i === 44 ? line.replace('"get"', '"gex"') : line)),
    );
    const r = verify("--data", dir, "--key", vkey);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/entry-mismatch: entry 300 .*auditID 00000000-0000-4000-8000-000000000300/);
  });

  it("one byte changed in a bundle stored compressed, and a compressed bundle damaged", async () => {
    const { dir, layout } = copy();
    const plain = readFileSync(layout.bundle(1), "utf8");
    rmSync(layout.bundle(1));
    // Whoever can write the directory can compress an edited bundle as kubetrail would.
    writeFileSync(layout.compressedBundle(1), compressBundle(Buffer.from(plain.replace('"get"', '"gex"'))));
    const edited = verify("--data", dir, "--key", vkey);
    expect(edited.code).toBe(1);
    expect(edited.out).toMatch(/entry-mismatch: entry 25\d /);
    const stored = compressBundle(Buffer.from(plain));
    // A byte inside the first frame's compressed blocks.
    stored[100]! ^= 0xff;
    writeFileSync(layout.compressedBundle(1), stored);
    const damaged = verify("--data", dir, "--key", vkey);
    expect(damaged.code).toBe(1);
    expect(damaged.out).toMatch(/unreadable: tile\/entries\/001\.zst: frame 0: /);
    // And one in its seek table.
    const table = compressBundle(Buffer.from(plain));
    table[table.length - 10]! ^= 0xff;
    writeFileSync(layout.compressedBundle(1), table);
    const badTable = verify("--data", dir, "--key", vkey);
    expect(badTable.code).toBe(1);
    expect(badTable.out).toMatch(/unreadable: tile\/entries\/001\.zst: /);
  });

  it("an entry deleted", () => {
    const { dir, layout } = copy();
    editLines(layout.bundle(0), (l) => l.filter((_, i) => i !== 17));
    const r = verify("--data", dir, "--key", vkey);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/bundle-count: entry bundle 0 holds 255 entries/);
    expect(r.out).toMatch(/entry 17 /);
  });

  it("an entry inserted", () => {
    const { dir, layout } = copy();
    editLines(layout.bundle(0), (l) => [...l.slice(0, 5), event(9999), ...l.slice(5)]);
    const r = verify("--data", dir, "--key", vkey);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/holds 257 entries/);
  });

  it("two entries swapped", () => {
    const { dir, layout } = copy();
    editLines(layout.bundle(1), (l) => {
      const out = [...l];
      [out[3], out[4]] = [out[4]!, out[3]!];
      return out;
    });
    const r = verify("--data", dir, "--key", vkey);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/entry 259 .*auditID 00000000-0000-4000-8000-000000000260/);
  });

  it("the log truncated", () => {
    const { dir, layout } = copy();
    rmSync(layout.openBundle(2));
    rmSync(`${layout.bundle(2)}.p`, { recursive: true });
    const r = verify("--data", dir, "--key", vkey);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/missing-bundle: entry bundle 2/);
  });

  it("the log truncated and re-signed at the shorter size: shorter than the trusted checkpoint", async () => {
    const { dir } = copy();
    const skey = readFileSync(path.join(dir, "keys", "signing.key"), "utf8").trim();
    await resign(dir, skey, 400);
    const r = verify("--data", dir, "--key", vkey, "--from", oldCheckpoint);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/log is shorter than the trusted checkpoint: 400 entries, trusted 500/);
  });

  it("a tile edited", () => {
    const { dir, layout } = copy();
    const tile = layout.hashTile({ level: 0, index: 1, width: 256 });
    const data = readFileSync(tile);
    data[40] = data[40]! ^ 0xff;
    writeFileSync(tile, data);
    const r = verify("--data", dir, "--key", vkey);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/tile-mismatch: tile\/0\/001 does not match the entries/);
  });

  it("a full tile with bytes appended, one or 100 MB of junk: an error naming the tile", () => {
    for (const extra of [1, 100 * 1024 * 1024]) {
      const { dir, layout } = copy();
      // Grown in place (sparse beyond the tile): the verifier must refuse it without reading it.
      truncateSync(layout.hashTile({ level: 0, index: 1, width: 256 }), 8192 + extra);
      const r = verify("--data", dir, "--key", vkey);
      expect(r.code, `${extra} bytes appended`).toBe(1);
      expect(r.out).toMatch(
        new RegExp(`unreadable: tile/0/001: ${8192 + extra} bytes, more than the 8192 it can be`),
      );
    }
  });

  it("the checkpoint re-signed with another key", async () => {
    const { dir } = copy();
    await resign(dir, generateNoteKey("example.com/tamper").signerKey);
    const r = verify("--data", dir, "--key", vkey);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/checkpoint signed by an unknown key/);
  });

  it("the whole log rebuilt from edited entries and re-signed with the same key: not an extension", async () => {
    const dir = path.join(root, "rebuilt");
    cpSync(path.join(pristine, "keys"), path.join(dir, "keys"), { recursive: true });
    const log = await openFsLog(dir);
    await log.append(
      Array.from({ length: SIZE }, (_, i) =>
        Buffer.from(i === 126 ? event(i).replace("delete", "get") : event(i)),
      ),
    );
    await log.waitIntegrated(SIZE);
    await log.close();
    // Self-consistent on its own, which is why auditors keep old checkpoints...
    expect(verify("--data", dir, "--key", vkey).code).toBe(0);
    // ...and the old checkpoint exposes it.
    const r = verify("--data", dir, "--key", vkey, "--from", oldCheckpoint);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/not an extension of the trusted checkpoint/);
  });

  it("prints machine-readable results with -o json", () => {
    const r = verify("--data", pristine, "--key", vkey, "-o", "json");
    const report = JSON.parse(r.out) as { ok: boolean; size: number; entries: number; keyPinned: boolean };
    expect(report).toMatchObject({ ok: true, size: SIZE, entries: SIZE, keyPinned: true });
  });
});
