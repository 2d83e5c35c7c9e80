// Verify of a log whose bundles are stored compressed: the hashing workers decompress them, and
// every verdict is the one the same log gives stored plain (or half converted), damage included.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { editStoredBundle } from "../../test/fixtures/stored-bundle.js";
import { bundleFrames } from "../store/bundle-codec.js";
import { compactBundleFile } from "../store/fs/compact-bundle.js";
import { FsLogFiles } from "../store/fs/files.js";
import { FsLayout } from "../store/fs/layout.js";
import { openFsLog } from "../store/fs/storage.js";
import { verifyLog, type VerifyReport } from "./verify-log.js";

/** Five full bundles and a partial one: enough for verify to hash on its worker threads. */
const SIZE = 256 * 5 + 40;

let root: string;
let base: string;
let verifierKey: string;

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), "kt-verify-zst-"));
  base = path.join(root, "plain");
  const events = Array.from({ length: SIZE }, (_, i) =>
    Buffer.from(
      JSON.stringify({
        kind: "Event",
        auditID: `a-${i}`,
        verb: ["get", "list", "update", "delete"][i % 4],
        user: { username: `user-${(i * 7) % 9}` },
        objectRef: {
          resource: "secrets",
          namespace: `ns-${(i * 3) % 5}`,
          name: `s-${(i * 2_654_435_761) % 4_294_967_296}`,
        },
      }),
    ),
  );
  const log = await openFsLog(base, { compressLevel: null });
  await log.append(events);
  await log.waitIntegrated(SIZE);
  verifierKey = log.verifierKey;
  await log.close();
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

type Form = "plain" | "compressed" | "mixed";

/** A copy of the log with its full bundles in `form`: mixed compresses bundles 1 and 2 only. */
function copyAs(form: Form, name: string): { dir: string; layout: FsLayout } {
  const dir = path.join(root, name);
  cpSync(base, dir, { recursive: true });
  const layout = new FsLayout(dir);
  const compressed = form === "compressed" ? [0, 1, 2, 3, 4] : form === "mixed" ? [1, 2] : [];
  for (const b of compressed) expect(compactBundleFile(layout, b, 3)).toMatchObject({ state: "compacted" });
  return { dir, layout };
}

/** The report without where the log is (each copy is in its own directory). */
async function verdict(dir: string, workers: number): Promise<Omit<VerifyReport, "where">> {
  const { where: _where, ...rest } = await verifyLog(new FsLogFiles(dir), { verifierKey, workers });
  return rest;
}

const tampering: [string, (layout: FsLayout) => void][] = [
  ["nothing changed", () => undefined],
  [
    "one byte of entry 600 changed",
    (layout) =>
      editStoredBundle(layout, 2, (b) => {
        const at = b.indexOf('"a-600"') + 5;
        b[at] = b[at]! ^ 1;
        return b;
      }),
  ],
  [
    "a line of bundle 3 deleted",
    (layout) => editStoredBundle(layout, 3, (b) => b.subarray(b.indexOf("\n") + 1)),
  ],
  [
    "two entries emptied as erasure does, with no erasure record",
    (layout) => {
      editStoredBundle(layout, 4, (b) => b.subarray(b.indexOf("\n")));
      editStoredBundle(layout, 1, (b) => {
        const lines = b.toString().split("\n");
        lines[10] = "";
        return Buffer.from(lines.join("\n"));
      });
    },
  ],
];

describe("verify of compressed bundles, decompressed on the hashing workers", () => {
  for (const [n, [what, tamper]] of tampering.entries()) {
    it(`gives the same verdict plain, compressed and mixed: ${what}`, async () => {
      const verdicts: Record<string, Omit<VerifyReport, "where">> = {};
      for (const form of ["plain", "compressed", "mixed"] as const) {
        const { dir, layout } = copyAs(form, `${form}-${n}`);
        tamper(layout);
        for (const workers of [0, 1]) verdicts[`${form}, ${workers} workers`] = await verdict(dir, workers);
      }
      const plain = verdicts["plain, 0 workers"]!;
      if (what === "nothing changed") expect(plain).toMatchObject({ ok: true, entries: SIZE, problems: [] });
      else expect(plain.ok).toBe(false);
      for (const [how, v] of Object.entries(verdicts)) expect(v, how).toEqual(plain);
    });
  }

  it("reports a damaged compressed frame as damage naming its bundle, on a worker and off", async () => {
    for (const form of ["compressed", "mixed"] as const) {
      const { dir, layout } = copyAs(form, `damaged-${form}`);
      const stored = readFileSync(layout.compressedBundle(2));
      const frame = bundleFrames(stored, "test").frames[3]!;
      stored[frame.offset + Math.floor(frame.size / 2)]! ^= 0x5a;
      writeFileSync(layout.compressedBundle(2), stored);
      for (const workers of [0, 1]) {
        const report = await verifyLog(new FsLogFiles(dir), { verifierKey, workers });
        expect(report.ok, `${form}, ${workers} workers`).toBe(false);
        expect(report.problems).toHaveLength(1);
        expect(report.problems[0]).toMatchObject({ code: "unreadable", index: 512 });
        expect(report.problems[0]!.message).toMatch(/tile\/entries\/002\.zst: frame 3: /);
        expect(report.entries).toBe(512);
      }
    }
  });

  it("verifies a damaged compressed bundle's plain copy left by an unfinished conversion", async () => {
    const { dir, layout } = copyAs("plain", "half-converted");
    const plain = readFileSync(layout.bundle(2));
    expect(compactBundleFile(layout, 2, 3)).toMatchObject({ state: "compacted" });
    const stored = readFileSync(layout.compressedBundle(2));
    writeFileSync(layout.compressedBundle(2), stored.subarray(0, stored.length - 20));
    writeFileSync(layout.bundle(2), plain);
    const report = await verdict(dir, 1);
    expect(report).toEqual(await verdict(base, 1));
    expect(report.ok).toBe(true);
  });

  it("counts a pruned bundle as pruned even when a crash left its compressed file", async () => {
    const { dir, layout } = copyAs("compressed", "pruned");
    const left = readFileSync(layout.compressedBundle(0));
    const log = await openFsLog(dir);
    await log.driver.pruneBundles(512, "test");
    await log.close();
    const pruned = await verdict(dir, 1);
    expect(pruned).toMatchObject({ pruned: 512, entries: SIZE });
    // Retention writes its record before it removes the files: a crash in between leaves this.
    writeFileSync(layout.compressedBundle(0), left);
    expect(await verdict(dir, 1)).toEqual(pruned);
    expect(await verdict(dir, 0)).toEqual(pruned);
  });
});
