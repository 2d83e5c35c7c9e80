// `kubetrail mirror --from URL --once` following a log served as plain files (any tlog-tiles
// server): entry bundles of large events (over 1 MiB per bundle) are mirrored whole, and the
// copy verifies. Before the pull read bundles with a bound made for cosignature answers, such
// a log could never be mirrored. A bundle sent compressed is stored as sent.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openFsLog } from "../../src/store/fs/storage.js";
import { originHash } from "../../src/witness/witness.js";
import { CLI, runCli } from "../fixtures/cli.js";
import { requireBuiltCli } from "../faults/serve-process.js";

const ORIGIN = "mirror-pull.test/log";
const ENTRIES = 300;

describe("mirror pull mode", () => {
  let dir = "";
  let server: http.Server;
  let url = "";

  beforeAll(async () => {
    requireBuiltCli();
    dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-mirror-pull-"));
    const log = await openFsLog(path.join(dir, "log"), { origin: ORIGIN });
    // 300 events of about 6 KiB: the first entry bundle holds 256 of them, about 1.5 MiB.
    const pad = "x".repeat(6000);
    await log.append(
      Array.from({ length: ENTRIES }, (_, i) => Buffer.from(JSON.stringify({ auditID: `e-${i}`, pad }))),
    );
    await log.waitIntegrated(ENTRIES);
    await log.close();
    // The log's files as they lie, over plain HTTP: checkpoint and tile/… are the tlog-tiles
    // paths. Full entry bundles are kept compressed (<N>.zst): served as a static server serves
    // precompressed files, with Content-Encoding to a client that accepts zstd.
    server = http.createServer((req, res) => {
      const rel = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/+/, "");
      if (rel.includes("..")) return void res.writeHead(400).end();
      const file = path.join(dir, "log", rel);
      try {
        if (existsSync(file)) return void res.writeHead(200).end(readFileSync(file));
        if (!String(req.headers["accept-encoding"] ?? "").includes("zstd")) throw new Error("not found");
        res.writeHead(200, { "Content-Encoding": "zstd" }).end(readFileSync(`${file}.zst`));
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it("mirrors a log whose entry bundles are larger than 1 MiB, and the copy verifies", async () => {
    const key = (await runCli(["keys", "--data", path.join(dir, "log")])).stdout.trim();
    const mirrorDir = path.join(dir, "mirror");
    const r = await runCli(["mirror", "--data", mirrorDir, "--from", url, "--key", key, "--once"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${ORIGIN}: ${ENTRIES} entries mirrored (${ENTRIES} new)`);
    const copy = path.join(mirrorDir, "logs", originHash(ORIGIN));
    // The full bundle came compressed: the mirror keeps the frame as it was sent (checked
    // through its decompressed entries), not the bundle decompressed and written again.
    const sealed = path.join("tile", "entries", "000.zst");
    expect(existsSync(path.join(dir, "log", sealed)), "the source keeps its full bundle compressed").toBe(
      true,
    );
    expect(readFileSync(path.join(copy, sealed)).equals(readFileSync(path.join(dir, "log", sealed)))).toBe(
      true,
    );
    expect(existsSync(path.join(copy, "tile", "entries", "000"))).toBe(false);
    const v = await runCli(["verify", "--data", copy, "--key", key, "-o", "json"]);
    expect(v.code, v.stdout).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, size: ENTRIES });
    // The mirror's own directory is not a log: verify names the copies it holds.
    const slip = await runCli(["verify", "--data", mirrorDir, "--key", key]);
    expect(slip.code).toBe(2);
    expect(slip.stderr).toContain(`${mirrorDir} is a mirror's data directory`);
    expect(slip.stderr).toContain(`--data ${copy}   (${ORIGIN})`);
  });

  it("shows how far a pull has come on a terminal, and nothing on a pipe", async () => {
    const key = (await runCli(["keys", "--data", path.join(dir, "log")])).stdout.trim();
    const args = ["--from", url, "--key", key, "--once"];
    // script(1) (util-linux, in every Debian) gives the CLI a terminal for stderr.
    const command = [process.execPath, CLI, "mirror", "--data", path.join(dir, "tty"), ...args].join(" ");
    const onTerminal = await promisify(execFile)("script", ["-qec", command, "/dev/null"]);
    expect(onTerminal.stdout).toContain(`mirror ${ORIGIN} [`);
    expect(onTerminal.stdout).toContain(`${ENTRIES}/${ENTRIES} entries`);
    const onPipe = await runCli(["mirror", "--data", path.join(dir, "pipe"), ...args]);
    expect(onPipe.code, onPipe.stderr).toBe(0);
    expect(onPipe.stderr).not.toContain("entries");
  });
});
