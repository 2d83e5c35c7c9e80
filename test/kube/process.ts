// Child processes of the kube harness (etcd, kube-apiserver) that never outlive the test
// process: each runs in its own process group, a watchdog kills that group if the test
// process dies without stopping it (a crashed or killed vitest worker), and a process
// 'exit' handler covers ordinary exits.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";

export interface Guarded {
  name: string;
  pid: number;
  /** Resolves with the exit code, or the signal's name, once the process has ended. */
  exited: Promise<number | string>;
  running(): boolean;
  /** The last lines it printed, for error messages. */
  tail(lines?: number): string;
  /** SIGTERM, then SIGKILL to the whole group after `graceMs`; resolves when it has ended. */
  stop(graceMs?: number): Promise<number | string>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of live) if (child.pid !== undefined) killGroup(child.pid, "SIGKILL");
  });
}

/**
 * Starts `command args…` in a new process group, its output appended to `logFile` (and kept
 * in memory for `tail`), guarded so that it ends when this process ends.
 */
export function spawnGuarded(
  name: string,
  command: string,
  args: string[],
  opts: {
    logFile: string;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    /** The process whose end ends this one; default: this process. */
    watchPid?: number;
  },
): Guarded {
  installExitHook();
  const child = spawn(command, args, {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  live.add(child);
  const log: WriteStream = createWriteStream(opts.logFile, { flags: "a" });
  let recent = "";
  const keep = (d: Buffer): void => {
    log.write(d);
    recent = (recent + d.toString("utf8")).slice(-64 * 1024);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? -1);
    });
  });
  // Output is fully read only after 'close'; the log stream ends then.
  child.on("close", () => log.end());
  // The watchdog polls for this process and kills the child's group once it is gone. It is
  // a shell in its own group, so it survives the test process it watches.
  const watchdog = spawn(
    "sh",
    [
      "-c",
      `while kill -0 ${opts.watchPid ?? process.pid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 1; done; kill -KILL -${pid} 2>/dev/null; exit 0`,
    ],
    { detached: true, stdio: "ignore" },
  );
  watchdog.unref();
  void exited.then(() => {
    if (watchdog.exitCode === null) watchdog.kill("SIGKILL");
  });
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    name,
    pid,
    exited,
    running,
    tail(lines = 40) {
      return recent.split("\n").slice(-lines).join("\n");
    },
    async stop(graceMs = 10_000) {
      if (running()) {
        killGroup(pid, "SIGTERM");
        const timer = setTimeout(() => killGroup(pid, "SIGKILL"), graceMs);
        try {
          await exited;
        } finally {
          clearTimeout(timer);
        }
      }
      // Anything the process left in its group (none expected) goes too.
      killGroup(pid, "SIGKILL");
      return exited;
    },
  };
}
