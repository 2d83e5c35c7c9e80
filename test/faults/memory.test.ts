// The memory one authenticated client can make `serve` spend, against the deploy manifest's
// limit (deploy/kubetrail.yaml: 1 GiB): hostile bodies, each built to cost the most memory per
// byte sent, four at once, round after round. Every request is answered (200, 413 or 429),
// the peak RSS of the whole process (every thread) stays under the limit, and the server still
// stores events afterwards.
import { randomUUID } from "node:crypto";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEvents } from "../../bench/gen/events.js";
import type { AuditEvent } from "../../src/audit/types.js";
import {
  postEvents,
  removeDir,
  requireBuiltCli,
  rssOf,
  type Serve,
  startServe,
  tempDir,
} from "./serve-process.js";

/** The StatefulSet's `resources.limits.memory`. */
const MANIFEST_LIMIT_MB = 1024;
const MB = 1024 * 1024;

const [sample] = [...generateEvents({ seed: 23, count: 1 })] as AuditEvent[];
const event = sample!;
const head = '{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[';

/** `count` copies of `unit` joined by commas, as one Buffer (built without a giant JS string). */
function repeated(prefix: string, unit: string, count: number, suffix: string): Buffer {
  const chunk = Buffer.from(`${unit},`.repeat(1024));
  const parts = [Buffer.from(prefix)];
  for (let n = count; n > 0; n -= 1024) parts.push(n >= 1024 ? chunk : Buffer.from(`${unit},`.repeat(n)));
  const body = Buffer.concat(parts);
  // The last comma becomes the suffix's first byte.
  return Buffer.concat([body.subarray(0, body.length - 1), Buffer.from(suffix)]);
}

/** The item with its requestObject replaced by `bytes` of raw JSON. */
function itemWith(requestObject: Buffer): Buffer {
  const item = JSON.stringify({ ...event, auditID: randomUUID(), requestObject: "@@" });
  const [before, after] = item.split('"@@"') as [string, string];
  return Buffer.concat([Buffer.from(head + before), requestObject, Buffer.from(after + "]}")]);
}

interface Hostile {
  name: string;
  body: () => Buffer;
  headers?: Record<string, string>;
}

const HOSTILE: Hostile[] = [
  // The issue's: 9 MB of 3 million empty items.
  { name: "3M empty items", body: () => repeated(head, "{}", 3_000_000, "]}") },
  { name: "3M empty objects in one item", body: () => itemWith(repeated("[", "{}", 3_000_000, "]")) },
  {
    name: "3M empty arrays in metadata",
    body: () => repeated('{"metadata":[', "[]", 3_000_000, `],${head.slice(1)}]}`),
  },
  { name: "10M small numbers", body: () => itemWith(repeated("[", "1", 10_000_000, "]")) },
  { name: "5M short strings", body: () => itemWith(repeated("[", '"a"', 5_000_000, "]")) },
  { name: "a 30 MB string", body: () => itemWith(Buffer.from(JSON.stringify("x".repeat(30 * MB)))) },
  {
    name: "120 MiB of empty objects, gzip",
    body: () => gzipSync(itemWith(repeated("[", "{}", 40 * MB, "]"))),
    headers: { "Content-Encoding": "gzip" },
  },
  {
    name: "10,000 events of 3 KB",
    body: () =>
      Buffer.from(
        JSON.stringify({
          kind: "EventList",
          apiVersion: "audit.k8s.io/v1",
          items: [...generateEvents({ seed: 29, count: 10_000 })].map((e) => ({
            ...e,
            auditID: randomUUID(),
            requestObject: { note: "n".repeat(1500) },
          })),
        }),
      ),
  },
];

describe("memory under hostile bodies", () => {
  let dir: string;
  let serve: Serve;
  beforeAll(async () => {
    requireBuiltCli();
    dir = tempDir("memory");
    serve = await startServe(`${dir}/data`, ["--max-body", "32Mi", "--no-detect"]);
  }, 120_000);
  afterAll(async () => {
    await serve?.kill("SIGKILL");
    removeDir(dir);
  });

  it(
    `keeps the process under the manifest's ${MANIFEST_LIMIT_MB} MiB, four hostile bodies at once`,
    { timeout: 600_000 },
    async () => {
      const pid = serve.proc.pid as number;
      const statuses: Record<string, number[]> = {};
      for (const h of HOSTILE) {
        const body = h.body();
        const replies = await Promise.all(
          Array.from({ length: 4 }, () =>
            postEvents(serve, body, h.headers).then(
              (r) => r.status,
              () => -1,
            ),
          ),
        );
        statuses[h.name] = replies;
        const { peakMB, nowMB } = rssOf(pid);
        console.info(
          `memory: ${h.name} (${(body.length / MB).toFixed(1)} MB sent) → ${replies.join(", ")}; RSS ${nowMB.toFixed(0)} MB, peak ${peakMB.toFixed(0)} MB`,
        );
        expect(serve.proc.exitCode, serve.output()).toBeNull();
        for (const status of replies)
          expect([200, 413, 429], `${h.name}: ${replies.join(",")}`).toContain(status);
      }
      const { peakMB } = rssOf(pid);
      expect(peakMB, JSON.stringify(statuses)).toBeLessThan(MANIFEST_LIMIT_MB);
      // The body is refused before it is parsed, and the server goes on storing events.
      expect(statuses["3M empty items"]).toEqual([413, 413, 413, 413]);
      const fresh = JSON.stringify({
        kind: "EventList",
        apiVersion: "audit.k8s.io/v1",
        items: [{ ...event, auditID: randomUUID() }],
      });
      const ok = await postEvents(serve, fresh);
      expect(ok.status, ok.body).toBe(200);
      expect(JSON.parse(ok.body)).toMatchObject({ stored: 1 });
    },
  );
});
