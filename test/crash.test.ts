// Kill a real writer with SIGKILL at random moments, many times: every append that had
// resolved must be present at its index after restart, and `kubetrail verify` must pass.
// After every other kill the directory is also damaged as a power loss could (unsynced
// bundle bytes lost): the write-ahead log must restore every acknowledged entry.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { openFsLog } from "../src/store/fs/storage.js";
import { CLI } from "./fixtures/cli.js";
import { makeRng, type Rng } from "../bench/gen/rng.js";
import { losePower } from "./fixtures/power-loss.js";
import { testSeed } from "./fixtures/seed.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "kt-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs the child until it has acknowledged something, then kills it after a random delay.
 * An index acknowledged twice means the first entry there was lost: it goes to `reused`.
 */
function runAndKill(run: number, rng: Rng, acked: Map<number, string>, reused: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["test/fixtures/append-child.mjs", dir, String(run)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let killTimer: NodeJS.Timeout | null = null;
    createInterface({ input: child.stdout }).on("line", (line) => {
      const [kind, first, ids] = line.split(" ");
      if (kind === "READY") killTimer = setTimeout(() => child.kill("SIGKILL"), 20 + rng.int(250));
      if (kind !== "ACK") return;
      ids!.split(",").forEach((id, i) => {
        const index = Number(first) + i;
        const before = acked.get(index);
        if (before !== undefined) reused.push(`${index}: ${before}, then ${id}`);
        acked.set(index, id);
      });
    });
    child.on("exit", (code, signal) => {
      if (killTimer) clearTimeout(killTimer);
      if (signal === "SIGKILL") resolve();
      else reject(new Error(`child exited on its own: code ${code}`));
    });
  });
}

describe("crash safety", () => {
  it("keeps every acknowledged append through 25 SIGKILLs and power losses, and the log verifies", async () => {
    const acked = new Map<number, string>();
    const reused: string[] = [];
    const damage: string[] = [];
    // When to kill and which unsynced bytes a power loss keeps.
    const rng = makeRng(testSeed(20_261_121));
    for (let run = 0; run < 25; run++) {
      await runAndKill(run, rng, acked, reused);
      if (run % 2 === 1)
        damage.push(`after run ${run}: ${losePower(dir, () => rng.next()).join("; ") || "nothing unsynced"}`);
    }
    expect(acked.size).toBeGreaterThan(100);
    expect(reused, `acknowledged entries lost and their index given again\n${damage.join("\n")}`).toEqual([]);
    // Some power losses must have cut acknowledged entries out of the bundle files.
    expect(damage.join("\n")).toMatch(/lost [1-9]/);

    const log = await openFsLog(dir);
    const found = new Map<number, string>();
    const seen = new Set<string>();
    for await (const e of log.readEntries(0, log.size())) {
      const id = (JSON.parse(Buffer.from(e.data!).toString()) as { auditID: string }).auditID;
      expect(seen.has(id), `${id} stored twice`).toBe(false);
      seen.add(id);
      found.set(e.index, id);
    }
    for (const [index, id] of acked)
      expect(found.get(index), `acked entry ${index}\n${damage.join("\n")}`).toBe(id);
    await log.close();

    const verify = spawnSync(process.execPath, [CLI, "verify", "--data", dir], {
      encoding: "utf8",
    });
    expect(verify.stdout + verify.stderr).toMatch(/^OK/);
    expect(verify.status).toBe(0);
  });
});
