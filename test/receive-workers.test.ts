// Webhook bodies prepared on receive worker threads (what `serve` does on a machine with a core
// to spare). Workers load compiled JavaScript, so this test drives the built dist/ (the suite
// builds first): the workers must prepare exactly what the caller's thread would, refuse bad
// bodies the same way and go on serving, and fail calls clearly once closed.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type * as ReceiveModule from "../src/ingest/receive.js";
import type { PreparedBatch } from "../src/ingest/prepare.js";
import { digestEvent, type EventDigest } from "../src/audit/event-digest.js";
import type { AuditEvent } from "../src/audit/types.js";
import { makePolicy, makeRule } from "./fixtures/policy/policy-builders.js";
import { SECRET_EVENTS } from "./fixtures/policy/secret-events.js";
import { apiserverEvents, eventList } from "./fixtures/audit/events.js";

const DIST = join(import.meta.dirname, "../dist");
let receive: typeof ReceiveModule;

beforeAll(async () => {
  receive = (await import(pathToFileURL(join(DIST, "ingest/receive.js")).href)) as typeof ReceiveModule;
});

// Drops the deployment controller's events and keeps the rest: the workers must apply it too.
const TRANSFORM = {
  policy: makePolicy([
    makeRule({ level: "None", users: ["system:serviceaccount:kube-system:deployment-controller"] }),
    makeRule({ level: "RequestResponse" }),
  ]),
  redaction: { key: new Uint8Array(32).fill(3) },
};

function bodies(): Buffer[] {
  const out: Buffer[] = [];
  for (let seed = 1; seed <= 12; seed++) {
    const items: object[] = apiserverEvents(50, { seed, bigEvery: 9 });
    if (seed % 3 === 0) items.push(...SECRET_EVENTS.map(({ kind: _k, apiVersion: _v, ...e }) => e));
    out.push(
      Buffer.from(eventList(items as never, seed % 4 === 0 ? "audit.k8s.io/v1beta1" : "audit.k8s.io/v1")),
    );
  }
  return out;
}

/**
 * What must agree between threads: everything but the parsed event a thread may keep and the
 * hash in binary a worker adds (checked against the hex one separately).
 */
function comparable(b: PreparedBatch) {
  return {
    received: b.received,
    dropped: b.dropped,
    events: b.events.map((e) => ({
      ...e,
      event: undefined,
      leaf: undefined,
      digest: undefined,
      bytes: Buffer.from(e.bytes).toString("utf8"),
    })),
  };
}

describe("receive workers", () => {
  it("prepare bodies exactly as the caller's thread does, the policy and redaction included", async () => {
    const inThread = receive.startReceiver({ transform: TRANSFORM, threads: 0 });
    const workers = receive.startReceiver({ transform: TRANSFORM, threads: 2 });
    try {
      const input = bodies();
      // All at once, so both workers take bodies and replies may come back in any order.
      const [fromWorkers, fromThread] = await Promise.all([
        Promise.all(input.map((b) => workers.receive(Buffer.from(b)))),
        Promise.all(input.map((b) => inThread.receive(b))),
      ]);
      expect(fromWorkers.map(comparable)).toEqual(fromThread.map(comparable));
      const dropped = fromThread.reduce((n, b) => n + b.dropped, 0);
      expect(dropped).toBeGreaterThan(0);
      expect(fromWorkers.every((b) => b.events.every((e) => e.event === undefined))).toBe(true);
      const leaves = fromWorkers.flatMap((b) =>
        b.events.map((e) => [Buffer.from(e.leaf!).toString("hex"), e.hash]),
      );
      expect(leaves.every(([leaf, hash]) => leaf === hash)).toBe(true);
      // Each event's digest, for the detector that gets only the bytes, tells what the bytes say.
      const parsedDigest = (d: EventDigest | undefined) =>
        d && { ...d, withoutBodies: d.withoutBodies && (JSON.parse(d.withoutBodies) as unknown) };
      for (const e of fromWorkers.flatMap((b) => b.events)) {
        const expected = digestEvent(JSON.parse(Buffer.from(e.bytes).toString("utf8")) as AuditEvent);
        expect(parsedDigest(e.digest)).toEqual(parsedDigest(expected));
      }
    } finally {
      await Promise.all([inThread.close(), workers.close()]);
    }
  });

  it("refuse a bad body as the caller's thread would, then go on", async () => {
    const workers = receive.startReceiver({ threads: 1 });
    try {
      const [good, bad] = apiserverEvents(2, { seed: 8 });
      const cases = [
        Buffer.from("[1, 2"),
        Buffer.from(JSON.stringify({ kind: "PodList", apiVersion: "v1", items: [] })),
        Buffer.from(eventList([good!], "audit.k8s.io/v2")),
        Buffer.from([0x7b, 0xff, 0x7d]),
      ];
      for (const body of cases) {
        let expected: unknown;
        try {
          receive.receiveBody(Buffer.from(body));
        } catch (err) {
          expected = err;
        }
        expect(expected).toBeInstanceOf(Error);
        await expect(workers.receive(body)).rejects.toMatchObject({
          name: "IngestError",
          code: (expected as { code: string }).code,
          message: (expected as Error).message,
        });
      }
      expect((await workers.receive(Buffer.from(eventList([good!])))).events).toHaveLength(1);
      // An invalid item is left out and reported, in a worker as in the caller's thread.
      const mixed = Buffer.from(eventList([good!, { ...bad!, stage: "Later" as never }]));
      const here = receive.receiveBody(Buffer.from(mixed));
      const there = await workers.receive(mixed);
      expect(there.events.map((e) => e.auditID)).toEqual([good!.auditID]);
      expect(there.rejected).toEqual(here.rejected);
      expect(there.rejected?.[0]?.message).toMatch(/^items\[1\]: field stage "Later"/);
    } finally {
      await workers.close();
    }
  });

  it("replace a worker that died: its request fails, the next ones are served", async () => {
    const workers = receive.startReceiver({
      threads: 1,
      workerUrl: pathToFileURL(join(import.meta.dirname, "fixtures/receive-worker-that-dies.mjs")),
    });
    try {
      const body = () => Buffer.from(eventList(apiserverEvents(3, { seed: 9 })));
      expect((await workers.receive(body())).events).toHaveLength(3);
      await expect(workers.receive(Buffer.from("die"))).rejects.toThrow(
        "receive worker stopped (exit code 7)",
      );
      expect((await workers.receive(body())).events).toHaveLength(3);
    } finally {
      await workers.close();
    }
  });

  it("fail calls at once after closing instead of leaving them waiting", async () => {
    const workers = receive.startReceiver({ threads: 1 });
    await workers.close();
    await expect(workers.receive(Buffer.from(eventList([])))).rejects.toThrow(/closed|stopped/);
  });
});
