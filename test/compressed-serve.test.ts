// The static log of a log whose bundles are stored compressed: /log/tile/entries/N is the exact
// bundle for every client, sent as the stored zstd frame (Content-Encoding: zstd) to one that
// accepts it, and `kubetrail verify URL` checks it as before.
import http from "node:http";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acceptsEncoding } from "../src/server/routes/query.js";
import { decompressBundle } from "../src/store/bundle-codec.js";
import { FsLayout } from "../src/store/fs/layout.js";
import { openFsLog } from "../src/store/fs/storage.js";
import type { AuditLog } from "../src/store/types.js";
import { runCli } from "./fixtures/cli.js";
import { startReadServer, type ReadServer } from "./fixtures/read-server.js";

const READ_TOKEN = "compressed-serve-read-token";
const SIZE = 600;
let dir: string;
let log: AuditLog;
let reads: ReadServer;

function get(
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(
        {
          host: "127.0.0.1",
          port: reads.server.port,
          path,
          headers: { Authorization: `Bearer ${READ_TOKEN}`, ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
        },
      )
      .on("error", reject);
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kt-compressed-serve-"));
  const writer = await openFsLog(dir, { origin: "example.com/compressed" });
  await writer.append(
    Array.from({ length: SIZE }, (_, i) =>
      Buffer.from(
        JSON.stringify({
          kind: "Event",
          apiVersion: "audit.k8s.io/v1",
          auditID: `c-${i}`,
          stage: "ResponseComplete",
          verb: "get",
        }),
      ),
    ),
  );
  await writer.waitIntegrated(SIZE);
  await writer.driver.compactAll();
  log = writer;
  reads = await startReadServer(log, dir, READ_TOKEN);
});

afterAll(async () => {
  await reads?.close();
});

describe("compressed bundles over HTTP", () => {
  it("sends the stored frame to a client that accepts zstd, the bundle bytes to any other", async () => {
    const stored = readFileSync(new FsLayout(dir).compressedBundle(1));
    const zstd = await get("/log/tile/entries/001", { "Accept-Encoding": "gzip, zstd;q=0.9" });
    expect(zstd.status).toBe(200);
    expect(zstd.headers["content-encoding"]).toBe("zstd");
    expect(zstd.headers["vary"]).toBe("Accept-Encoding");
    expect(zstd.body).toEqual(stored);
    const plain = await get("/log/tile/entries/001", { "Accept-Encoding": "gzip, zstd;q=0" });
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.body).toEqual(decompressBundle(stored, "test"));
    expect(plain.body.toString().split("\n")[0]).toContain('"auditID":"c-256"');
    // The partial bundle of the checkpoint is never compressed.
    const partial = await get("/log/tile/entries/002.p/88", { "Accept-Encoding": "zstd" });
    expect(partial.headers["content-encoding"]).toBeUndefined();
    expect(partial.body.toString().split("\n")).toHaveLength(89);
  });

  it("verifies over HTTP, the bundles decoded as they come", async () => {
    const tokenFile = join(dir, "verify-read-token");
    writeFileSync(tokenFile, `${READ_TOKEN}\n`, { mode: 0o600 });
    const r = await runCli([
      "verify",
      `http://127.0.0.1:${reads.server.port}/log/`,
      "--key",
      log.verifierKey,
      "--token-file",
      tokenFile,
      "-o",
      "json",
    ]);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, entries: SIZE });
  });

  it("reads Accept-Encoding as RFC 9110 says", () => {
    expect(acceptsEncoding(undefined, "zstd")).toBe(false);
    expect(acceptsEncoding("zstd", "zstd")).toBe(true);
    expect(acceptsEncoding("gzip, ZSTD", "zstd")).toBe(true);
    expect(acceptsEncoding("zstd;q=0", "zstd")).toBe(false);
    expect(acceptsEncoding("*", "zstd")).toBe(true);
    expect(acceptsEncoding("*, zstd;q=0", "zstd")).toBe(false);
    expect(acceptsEncoding("gzip, br", "zstd")).toBe(false);
  });
});
