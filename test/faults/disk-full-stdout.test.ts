// Disk full under serve's own stdout: the data directory and the file serve's stdout is
// redirected to share an 8 MiB tmpfs, which is then filled. Log lines that cannot be written
// are dropped and counted (kubetrail_log_lines_dropped_total); the server keeps answering,
// and once space returns its log and its ingest resume. Needs root for mount(8).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeBatches } from "./event-batches.js";
import { call, removeDir, requireBuiltCli, sleep, tempDir } from "./serve-process.js";
import { CLI } from "../fixtures/cli.js";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("disk-full stdout test skipped: mounting a size-limited tmpfs needs root");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Fills the filesystem of `file` until it refuses another byte; returns the bytes written. */
function fill(file: string): number {
  const fd = openSync(file, "w");
  const chunk = Buffer.alloc(64 * 1024, 0x78);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    closeSync(fd);
  }
  // The last partial pages, one byte at a time, so not even a short log line fits.
  const fd2 = openSync(file, "a");
  try {
    for (;;) written += writeSync(fd2, Buffer.from("x"));
  } catch {
    // full
  } finally {
    closeSync(fd2);
  }
  return written;
}

describe.skipIf(!isRoot)("disk full under serve's stdout", () => {
  let dir: string;
  let mnt: string;
  let mounted = false;
  let proc: ChildProcess | undefined;

  beforeAll(() => {
    requireBuiltCli();
    dir = tempDir("stdoutfull");
    mnt = `${dir}/mnt`;
    mkdirSync(mnt);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", mnt]);
    mounted = true;
  });

  afterAll(() => {
    proc?.kill("SIGKILL");
    if (mounted) execFileSync("umount", ["-l", mnt]);
    removeDir(dir);
  });

  it(
    "keeps serving, counts the lines it could not write, and logs again when space returns",
    { timeout: 120_000 },
    async () => {
      const dataDir = `${mnt}/data`;
      const logFile = `${mnt}/serve.log`;
      const port = await freePort();
      const out = openSync(logFile, "w");
      proc = spawn(
        process.execPath,
        [CLI, "serve", "--data", dataDir, "--listen", `127.0.0.1:${port}`, "--integrate-interval", "200ms"],
        { stdio: ["ignore", out, "pipe"] },
      );
      closeSync(out);
      let stderr = "";
      proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | string>((r) =>
        proc!.on("exit", (code, sig) => r(code ?? sig ?? -1)),
      );
      const alive = (): boolean => proc!.exitCode === null && proc!.signalCode === null;

      let serve: { url: string; ca: Buffer } | undefined;
      for (let i = 0; i < 300 && serve === undefined; i++) {
        await sleep(100);
        expect(alive(), `serve exited before ready:\n${stderr}\n${readFileSync(logFile, "utf8")}`).toBe(true);
        try {
          const candidate = {
            url: `https://127.0.0.1:${port}`,
            ca: readFileSync(path.join(dataDir, "tls", "ca.crt")),
          };
          if ((await call(candidate, { path: "/readyz", timeoutMs: 2000 })).status === 200) serve = candidate;
        } catch {
          // not listening yet
        }
      }
      if (serve === undefined) throw new Error(`serve not ready:\n${stderr}`);
      const s = serve;
      const token = readFileSync(path.join(dataDir, "ingest-token"), "utf8").trim();
      const post = (body: string) => call(s, { path: "/v1/audit/webhook", body, token });
      const batches = makeBatches(4242, 1200, 40);
      expect((await post(batches[0]!.body)).status).toBe(200);

      const filler = `${mnt}/filler`;
      fill(filler);
      const logSize = statSync(logFile).size;

      // Every request writes a log line; none can be written now.
      for (let i = 0; i < 30; i++) {
        expect((await call(s, { path: "/healthz" })).status).toBe(200);
        expect([200, 503]).toContain((await post(batches[1 + (i % 5)]!.body)).status);
      }
      expect(alive(), stderr).toBe(true);
      const metrics = (await call(s, { path: "/metrics" })).body;
      const dropped = Number(/^kubetrail_log_lines_dropped_total (\d+)/m.exec(metrics)?.[1] ?? 0);
      expect(dropped).toBeGreaterThanOrEqual(30);
      // Lines still fit in the page the file had begun (tmpfs allocates pages), not beyond.
      expect(statSync(logFile).size).toBeLessThanOrEqual(Math.ceil(logSize / 4096) * 4096);

      // Space returns: the same process logs and ingests again.
      rmSync(filler);
      // The apiserver's side: retry each batch until it is acknowledged (the log resumes on its own).
      for (const b of batches.slice(10)) {
        let status = 0;
        for (const deadline = Date.now() + 30_000; status !== 200 && Date.now() < deadline;) {
          status = (await post(b.body)).status;
          if (status !== 200) await sleep(200);
        }
        expect(status).toBe(200);
      }
      expect(statSync(logFile).size).toBeGreaterThan(Math.ceil(logSize / 4096) * 4096);
      expect(readFileSync(logFile, "utf8")).toMatch(/"msg":"request"/);

      proc.kill("SIGTERM");
      expect(await exited, readFileSync(logFile, "utf8").slice(-3000)).toBe(0);
      proc = undefined;
    },
  );
});
