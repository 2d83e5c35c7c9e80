// A mirror's copy writes each appended bundle's files while it checks the next entries: a write
// that fails is not lost in the background. The commit that would cover it fails instead, the
// copy's checkpoint stays where it was, and once the cause is gone the same entries go in and
// the copy verifies. A log restored from a copy ends with its full bundles compressed.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MirroredLog } from "../src/mirror/mirrored-log.js";
import { restoreLog } from "../src/mirror/restore.js";
import { tempPathFor } from "../src/store/durable-file.js";
import { FsLayout } from "../src/store/fs/layout.js";
import { FsLogFiles } from "../src/store/fs/files.js";
import { openFsLog } from "../src/store/fs/storage.js";
import { CosignatureSigner, generateCosignatureKey, NoteVerifier } from "../src/tlog/index.js";
import { verifyLog } from "../src/verify/verify-log.js";
import { originHash } from "../src/witness/witness.js";

const ORIGIN = "mirror-copy-writes.test/log";
const dir = mkdtempSync(path.join(os.tmpdir(), "kt-mirror-writes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a mirror copy's background writes", () => {
  it("fail the commit that would cover them, and the copy recovers", async () => {
    const entries = Array.from({ length: 600 }, (_, i) =>
      Buffer.from(JSON.stringify({ kind: "Event", apiVersion: "audit.k8s.io/v1", auditID: `w-${i}` })),
    );
    const logDir = path.join(dir, "log");
    const log = await openFsLog(logDir, { origin: ORIGIN });
    await log.append(entries);
    await log.waitIntegrated(600);
    const key = log.verifierKey;
    await log.close();
    const note = (await new FsLogFiles(logDir).readCheckpoint())!.toString();
    const signer = CosignatureSigner.fromKey(generateCosignatureKey("m.writes.test/m").signerKey);
    const mirrorData = path.join(dir, "mirror");
    const open = () => MirroredLog.open(mirrorData, ORIGIN, [NoteVerifier.fromKey(key)], "ndjson");

    // Bundle 1's file cannot be created: a directory stands where its temporary file goes.
    const copyLayout = new FsLayout(path.join(mirrorData, "logs", originHash(ORIGIN)));
    const obstacle = tempPathFor(copyLayout.bundle(1));
    mkdirSync(obstacle, { recursive: true });
    const copy = await open();
    const appendAll = async () => {
      for (let i = 0; i < entries.length; i += 256) await copy.append(entries.slice(i, i + 256));
    };
    await expect(appendAll().then(() => copy.commit(note, signer))).rejects.toThrow(/EISDIR|directory/);
    await copy.discardUncommitted();
    expect(copy.checkpoint()).toBeNull();
    expect(copy.next).toBe(0);

    rmSync(obstacle, { recursive: true });
    await appendAll();
    await copy.commit(note, signer);
    expect(copy.checkpoint()?.size).toBe(600);
    const report = await verifyLog(new FsLogFiles(copyLayout.dir), { verifierKey: key });
    expect(report.problems).toEqual([]);
    expect(report.size).toBe(600);
    // And it opens again where it committed.
    expect((await open()).next).toBe(600);
  });
});

describe("a restored log", () => {
  it("holds its full bundles compressed, not as the closing log left them", async () => {
    const source = path.join(dir, "restore-source");
    const log = await openFsLog(source, { origin: ORIGIN, compressLevel: null });
    const n = 16 * 256 + 10;
    await log.append(
      Array.from({ length: n }, (_, i) =>
        Buffer.from(JSON.stringify({ auditID: `r-${i}`, pad: "y".repeat(i % 300) })),
      ),
    );
    await log.waitIntegrated(n);
    const key = log.verifierKey;
    await log.close();
    const target = path.join(dir, "restored");
    await restoreLog({
      source: { dir: source },
      verifierKey: key,
      signerKey: readFileSync(path.join(source, "keys", "signing.key"), "utf8").trim(),
      dataDir: target,
    });
    const stored = readdirSync(path.join(target, "tile", "entries"));
    expect(stored.filter((f) => /^\d{3}$/.test(f))).toEqual([]);
    expect(stored.filter((f) => /^\d{3}\.zst$/.test(f))).toHaveLength(16);
    const report = await verifyLog(new FsLogFiles(target), { verifierKey: key });
    expect(report.problems).toEqual([]);
    expect(report.size).toBe(n);
  });
});
