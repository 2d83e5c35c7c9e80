// The harness's child processes end with whoever started them: stop() ends the whole process
// group, and the watchdog ends it when the watched process dies without calling stop().
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { spawnGuarded } from "./process.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "kube-harness-process-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Running, not merely a zombie waiting for whoever adopted it to reap it. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** A shell that starts a grandchild and prints its pid: the group has two processes. */
const SHELL_WITH_GRANDCHILD = "sleep 600 & echo $!; wait";

describe("spawnGuarded", () => {
  it("stop() ends the process and everything in its group", async () => {
    const g = spawnGuarded("sh", "sh", ["-c", SHELL_WITH_GRANDCHILD], { logFile: path.join(dir, "a.log") });
    expect(await until(() => /^\d+$/m.test(g.tail()), 5000)).toBe(true);
    const grandchild = Number(/^(\d+)$/m.exec(g.tail())![1]);
    expect(alive(grandchild)).toBe(true);
    await g.stop(2000);
    expect(g.running()).toBe(false);
    expect(await until(() => !alive(grandchild), 5000)).toBe(true);
  });

  it("ends the group when the watched process dies without stopping it", async () => {
    // Stands in for a test process that was killed (a crashed vitest worker).
    const owner = spawn("sleep", ["600"], { stdio: "ignore" });
    const g = spawnGuarded("sh", "sh", ["-c", SHELL_WITH_GRANDCHILD], {
      logFile: path.join(dir, "b.log"),
      watchPid: owner.pid,
    });
    expect(await until(() => /^\d+$/m.test(g.tail()), 5000)).toBe(true);
    const grandchild = Number(/^(\d+)$/m.exec(g.tail())![1]);
    // Still running while its owner lives.
    await new Promise((r) => setTimeout(r, 1500));
    expect(g.running()).toBe(true);
    owner.kill("SIGKILL");
    expect(await g.exited).toBe("SIGKILL");
    expect(await until(() => !alive(grandchild), 5000)).toBe(true);
  });
});
