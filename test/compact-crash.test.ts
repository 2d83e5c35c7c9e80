// `kubetrail compact` killed with SIGKILL at random moments while converting a data directory of
// plain bundles, then while rewriting its compressed bundles into other frames: after each kill
// every entry still reads the same and the log verifies, and a later run finishes the conversion.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleFrames } from "../src/store/bundle-codec.js";
import { FsLogFiles } from "../src/store/fs/files.js";
import { FsLayout } from "../src/store/fs/layout.js";
import { openFsLog } from "../src/store/fs/storage.js";
import { verifyLog } from "../src/verify/verify-log.js";
import { CLI, runCli } from "./fixtures/cli.js";
import { seededRandom as rng } from "./fixtures/seed.js";

// Enough that three kills, each soon after the conversion starts, leave work for the last run
// even where level 19 converts a few dozen bundles a second.
const BUNDLES = 32;
const SIZE = BUNDLES * 256 + 17;
const seed = Number(process.env.KT_TEST_SEED ?? Date.now() % 100_000);
let dir: string;
let verifierKey: string;
/** SHA-256 of every bundle's bytes, as read before any conversion. */
let before: string;

/**
 * A digest of every bundle's bytes as read: compared as a string, since an element-wise
 * comparison of megabytes takes the test runner seconds.
 */
async function everyBundle(): Promise<string> {
  const files = new FsLogFiles(dir);
  const parts: Buffer[] = [];
  for (let b = 0; b * 256 < SIZE; b++) {
    const got = await files.readEntryBundle(b, Math.min(256, SIZE - b * 256));
    if (got?.data === undefined) throw new Error(`bundle ${b} is unreadable`);
    parts.push(Buffer.from(got.data));
  }
  return createHash("sha256").update(Buffer.concat(parts)).digest("hex");
}

beforeAll(async () => {
  console.log(`compact-crash seed ${seed} (KT_TEST_SEED=${seed} to replay)`);
  dir = mkdtempSync(join(tmpdir(), "kt-compact-crash-"));
  const log = await openFsLog(dir, { compressLevel: null });
  const entries = Array.from({ length: SIZE }, (_, i) =>
    Buffer.from(
      JSON.stringify({
        kind: "Event",
        apiVersion: "audit.k8s.io/v1",
        auditID: `crash-${i}`,
        stage: "ResponseComplete",
        verb: "update",
        user: { username: `user-${i % 11}` },
        requestObject: { data: { n: String(i), filler: "x".repeat(i % 400) } },
      }),
    ),
  );
  await log.append(entries);
  await log.waitIntegrated(SIZE);
  verifierKey = log.verifierKey;
  await log.close();
  before = await everyBundle();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("compact killed with SIGKILL", () => {
  it("never loses or changes an entry, and a later run completes", { timeout: 180_000 }, async () => {
    const random = rng(seed);
    const entriesDir = join(dir, "tile", "entries");
    /** Compressed bundles and temporary files: what a conversion has touched so far. */
    const touched = () =>
      readdirSync(entriesDir).filter((n) => n.endsWith(".zst") || n.endsWith(".tmp")).length;
    for (let round = 0; round < 3; round++) {
      const start = touched();
      // Level 19 is slow: the kill lands in the middle of the conversion, not after it.
      const child = spawn(process.execPath, [CLI, "compact", "--data", dir, "--level", "19"], {
        stdio: "ignore",
      });
      const exited = new Promise((r) => child.on("exit", r));
      // Once it has begun converting, at a random moment of the next few bundles.
      const deadline = Date.now() + 30_000;
      while (touched() === start && child.exitCode === null && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, random() * 150));
      child.kill("SIGKILL");
      await exited;
      expect(await everyBundle(), `round ${round}`).toBe(before);
      const report = await verifyLog(new FsLogFiles(dir), { verifierKey });
      expect(report.problems, `round ${round}`).toEqual([]);
      expect(report.entries).toBe(SIZE);
    }
    const done = await runCli(["compact", "--data", dir, "-o", "json"]);
    expect(done.stderr).toBe("");
    expect(done.code).toBe(0);
    // The kills landed during the conversion, not after it: the last run still had bundles to do.
    expect((JSON.parse(done.stdout) as { bundles: number }).bundles).toBeGreaterThan(0);
    const layout = new FsLayout(dir);
    for (let b = 0; b < BUNDLES; b++) {
      expect(existsSync(layout.bundle(b)), `plain bundle ${b}`).toBe(false);
      expect(existsSync(layout.compressedBundle(b)), `compressed bundle ${b}`).toBe(true);
    }
    expect(await everyBundle()).toBe(before);
    const again = await runCli(["compact", "--data", dir, "-o", "json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({ bundles: 0, reframed: 0 });
  });

  it(
    "never loses an entry while rewriting compressed bundles into other frames",
    { timeout: 180_000 },
    async () => {
      const random = rng(seed + 1);
      const layout = new FsLayout(dir);
      const perFrame = (b: number) =>
        bundleFrames(readFileSync(layout.compressedBundle(b)), String(b)).entriesPerFrame;
      const bad = await runCli(["compact", "--data", dir, "--entries-per-frame", "3"]);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain("--entries-per-frame");
      for (let round = 0; round < 3; round++) {
        const target = round % 2 === 0 ? "256" : "8";
        const startedMs = Date.now();
        const changed = () =>
          Array.from({ length: BUNDLES }, (_, b) => statSync(layout.compressedBundle(b)).mtimeMs).filter(
            (m) => m >= startedMs,
          ).length;
        const child = spawn(
          process.execPath,
          [CLI, "compact", "--data", dir, "--level", "19", "--entries-per-frame", target],
          { stdio: "ignore" },
        );
        const exited = new Promise((r) => child.on("exit", r));
        const deadline = Date.now() + 30_000;
        while (changed() === 0 && child.exitCode === null && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 10));
        await new Promise((r) => setTimeout(r, random() * 150));
        child.kill("SIGKILL");
        await exited;
        expect(await everyBundle(), `round ${round}`).toBe(before);
        const report = await verifyLog(new FsLogFiles(dir), { verifierKey });
        expect(report.problems, `round ${round}`).toEqual([]);
      }
      const done = await runCli(["compact", "--data", dir, "--entries-per-frame", "16", "-o", "json"]);
      expect(done.code).toBe(0);
      expect(JSON.parse(done.stdout)).toMatchObject({ bundles: 0, reframed: BUNDLES });
      for (let b = 0; b < BUNDLES; b++) expect(perFrame(b), `bundle ${b}`).toBe(16);
      expect(await everyBundle()).toBe(before);
    },
  );
});
