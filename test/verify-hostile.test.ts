// Verifiers do not trust their source for size or time (issue 19, item 12): a file that is not a
// regular file (a FIFO that blocks forever, a symlink to /dev/zero that never ends), an answer
// longer than the format allows, a server trickling bytes — each ends in a clear failure naming
// what was read, within the deadline, instead of a hang or unbounded memory.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FsLayout } from "../src/store/fs/layout.js";
import { openFsLog } from "../src/store/fs/storage.js";
import { runCli, type CliResult } from "./fixtures/cli.js";
import { serveStaticLog } from "./fixtures/static-log.js";

const root = mkdtempSync(path.join(tmpdir(), "kt-hostile-"));
const pristine = path.join(root, "pristine");
let vkey = "";
let n = 0;

beforeAll(async () => {
  const log = await openFsLog(pristine, { origin: "example.com/hostile" });
  await log.append(
    Array.from({ length: 600 }, (_, i) => Buffer.from(JSON.stringify({ kind: "Note", n: i }))),
  );
  await log.waitIntegrated(600);
  vkey = log.verifierKey;
  await log.close();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function copy(): { dir: string; layout: FsLayout } {
  const dir = path.join(root, `case-${n++}`);
  cpSync(pristine, dir, { recursive: true });
  return { dir, layout: new FsLayout(dir) };
}

/** `kubetrail verify`, which must finish on its own well within the test's time. */
async function verify(...args: string[]): Promise<CliResult & { ms: number }> {
  const started = Date.now();
  const r = await runCli(["verify", ...args, "--key", vkey]);
  return { ...r, ms: Date.now() - started };
}

describe("verify --data refuses what is not a regular file", () => {
  it("a tile that is a FIFO (whose open would block forever)", async () => {
    const { dir, layout } = copy();
    const tile = layout.hashTile({ level: 0, index: 1, width: 256 });
    rmSync(tile);
    execFileSync("mkfifo", [tile]);
    const r = await verify("--data", dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/unreadable: tile\/0\/001: not a regular file/);
  });

  it("a tile and a checkpoint that are symlinks to /dev/zero (which never end)", async () => {
    const { dir, layout } = copy();
    const tile = layout.hashTile({ level: 0, index: 0, width: 256 });
    rmSync(tile);
    symlinkSync("/dev/zero", tile);
    const r = await verify("--data", dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/unreadable: tile\/0\/000: not a regular file/);
    rmSync(layout.checkpoint);
    symlinkSync("/dev/zero", layout.checkpoint);
    const c = await verify("--data", dir);
    expect(c.code).toBe(1);
    expect(c.stdout).toMatch(/unreadable: checkpoint: not a regular file/);
  });
});

describe("verify URL bounds what a server sends and how long it takes", () => {
  let server: Server;
  let port = 0;
  /** How the server answers a path; the default serves the pristine log's files. */
  let answer: (rel: string, res: ServerResponse) => boolean = () => false;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const rel = decodeURIComponent((req.url ?? "/").replace(/^\/log\//, ""));
      if (answer(rel, res)) return;
      serveStaticLog(pristine, rel, req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("cuts off a tile that streams forever, naming it", async () => {
    answer = (rel, res) => {
      if (rel !== "tile/0/001") return false;
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 7);
      const more = (): void => {
        while (res.write(chunk)) {
          /* as fast as the client reads */
        }
        res.once("drain", more);
      };
      res.on("close", () => res.removeAllListeners("drain"));
      more();
      return true;
    };
    const r = await verify(`http://127.0.0.1:${port}/log/`);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /unreadable: GET http:\/\/127\.0\.0\.1:\d+\/log\/tile\/0\/001: answer of more than the 8192 bytes/,
    );
  });

  it("refuses a full tile with bytes appended from its declared length alone", async () => {
    answer = (rel, res) => {
      if (rel !== "tile/0/000") return false;
      res.writeHead(200, { "Content-Length": 8193 }).end(Buffer.alloc(8193));
      return true;
    };
    const r = await verify(`http://127.0.0.1:${port}/log/`);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/tile\/0\/000: answer of 8193 bytes, more than the 8192 it can be/);
  });

  it("gives up on a server trickling one byte a second at the deadline, saying so", async () => {
    answer = (rel, res) => {
      if (rel !== "checkpoint") return false;
      res.writeHead(200);
      const timer = setInterval(() => res.write("x"), 1000);
      res.on("close", () => clearInterval(timer));
      return true;
    };
    const r = await verify(`http://127.0.0.1:${port}/log/`, "--timeout", "3s");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/deadline: stopped: --timeout 3s passed/);
    expect(r.ms).toBeLessThan(15_000);
  });
});

describe("verify URL of a log of many bundles", () => {
  it("keeps its requests in flight without a listener warning on stderr", async () => {
    // Every request in flight listens for the --timeout deadline: verify keeps more than the ten
    // Node tolerates before warning of a "memory leak" to a user who did nothing wrong.
    const dir = path.join(root, "many-bundles");
    const log = await openFsLog(dir, { origin: "example.com/many" });
    const size = 16 * 256 + 7;
    await log.append(
      Array.from({ length: size }, (_, i) => Buffer.from(JSON.stringify({ kind: "Note", n: i }))),
    );
    await log.waitIntegrated(size);
    const key = log.verifierKey;
    await log.close();
    const server = createServer((req, res) =>
      serveStaticLog(dir, decodeURIComponent((req.url ?? "/").replace(/^\/log\//, "")), req, res),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const r = await runCli(["verify", `http://127.0.0.1:${port}/log/`, "--key", key]);
      expect(r.stdout).toMatch(new RegExp(`^OK: .* ${size} entries`));
      expect(r.stderr).not.toMatch(/MaxListenersExceededWarning/);
      expect(r.code).toBe(0);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
