// Verifying a log while its writer goes on (issue 19, item 11): the verifier holds one checkpoint,
// and the partial tile that checkpoint needs may be replaced by a wider one, and removed, at any
// moment. A clean live log must always verify: a vanished partial is read again in the version
// there is by then (the tile only grows, so its prefix is the same).
import { createServer, type Server } from "node:http";
import { readFileSync, rmSync, unlinkSync, writeFileSync, mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FsLogFiles } from "../src/store/fs/files.js";
import { FsLayout } from "../src/store/fs/layout.js";
import { openFsLog } from "../src/store/fs/storage.js";
import { readRegularFile } from "../src/store/fs/bounded-read.js";
import { readerAt } from "../src/store/log-reader.js";
import type { SignedCheckpoint } from "../src/store/types.js";
import { hashLeaf } from "../src/tlog/index.js";
import { runCli } from "./fixtures/cli.js";
import { serveStaticLog } from "./fixtures/static-log.js";

const entry = (i: number) => Buffer.from(JSON.stringify({ kind: "Note", n: i }));
const entries = (from: number, n: number) => Array.from({ length: n }, (_, i) => entry(from + i));

let dir: string;
let at296: SignedCheckpoint;
let p44: Buffer;
let p45: Buffer;
const tile = (w: number) => new FsLayout(dir).hashTile({ level: 0, index: 1, width: w });

/** What the writer does between a reader listing tile 0/1's partials and reading one: a wider one, then the old one removed. */
function writerMovesOn(): void {
  writeFileSync(tile(45), p45);
  unlinkSync(tile(44));
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "kt-verify-live-"));
  const log = await openFsLog(dir, { origin: "example.com/live", integrateIntervalMs: 3_600_000 });
  await log.append(entries(0, 296));
  at296 = await log.waitIntegrated(296);
  await log.append(entries(296, 4));
  await log.waitIntegrated(300);
  p44 = readFileSync(tile(44));
  await log.append(entries(300, 1));
  await log.waitIntegrated(301);
  p45 = readFileSync(tile(45));
  await log.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The directory as a reader holding checkpoint 296 finds it: tile 0/1's version of width 44 only. */
function atCheckpoint300(): void {
  if (existsSync(tile(45))) unlinkSync(tile(45));
  writeFileSync(tile(44), p44);
}

/** The directory as the writer left it at 301 entries: tile 0/1's version of width 45 only. */
function atCheckpoint301(): void {
  if (existsSync(tile(44))) unlinkSync(tile(44));
  writeFileSync(tile(45), p45);
}

describe("verify beside a live writer", () => {
  it("reads a partial tile that vanished between listing and reading, from the directory", async () => {
    atCheckpoint300();
    let moved = false;
    const files = new FsLogFiles(dir, async (file, max, what) => {
      if (file === tile(44) && !moved) {
        moved = true;
        writerMovesOn();
      }
      return readRegularFile(file, max, what);
    });
    const reader = readerAt(files, at296);
    const data = await reader.readTile({ level: 0, index: 1, width: 40 });
    expect(moved).toBe(true);
    expect(Buffer.from(data!)).toEqual(p45.subarray(0, 40 * 32));
    expect(Buffer.from(data!.subarray(39 * 32))).toEqual(Buffer.from(hashLeaf(entry(295))));
  });

  it("reads partials that vanished, over HTTP, in the version the server's checkpoint names", async () => {
    // The log as it is at 301 entries, served by a plain static file server. The verifier's first
    // ask for the checkpoint gets the one of 296 entries (the writer was there then); by the time
    // it asks for that tree's partial tile and bundle (width 40), they are gone, replaced by 45.
    atCheckpoint301();
    let asked = 0;
    const server: Server = createServer((req, res) => {
      const rel = decodeURIComponent((req.url ?? "/").replace(/^\/log\//, ""));
      if (rel === "checkpoint" && asked++ === 0) return res.writeHead(200).end(at296.note);
      serveStaticLog(dir, rel, req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as { port: number }).port;
      expect(existsSync(tile(40))).toBe(false);
      const r = await runCli(["verify", `http://127.0.0.1:${port}/log/`, "--key", readKey()]);
      expect(r.stdout + r.stderr).toMatch(/^OK: .* 296 entries/);
      expect(r.code).toBe(0);
      expect(asked).toBeGreaterThan(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("always verifies a clean log while the writer appends and publishes every few milliseconds", async () => {
    const live = mkdtempSync(path.join(tmpdir(), "kt-verify-live-run-"));
    const log = await openFsLog(live, { integrateIntervalMs: 2 });
    let writing = true;
    let next = 0;
    const writer = (async () => {
      while (writing) {
        await log.append(entries(next, 3));
        next += 3;
      }
    })();
    try {
      while (log.size() < 600) await sleep(5);
      await log.waitIntegrated(600);
      // `kubetrail verify --data` beside the writer, as an auditor would run it.
      for (let run = 0; run < 8; run++) {
        const r = await runCli(["verify", "--data", live, "--key", log.verifierKey]);
        expect(r.stdout + r.stderr, `run ${run}`).toMatch(/^OK: /);
      }
    } finally {
      writing = false;
      await writer;
      await log.close();
      rmSync(live, { recursive: true, force: true });
    }
  });
});

function readKey(): string {
  return readFileSync(path.join(dir, "keys", "verifier.key"), "utf8").trim();
}
