// The benchmark data generator (deterministic bytes for a seed, a realistic mix, valid shapes),
// and the parts every figure rests on: the harness, the synthetic tree, the PostgreSQL baseline.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  actorClassOf,
  averageSize,
  formatMicroTime,
  generateEventLines,
  generateEvents,
  parseMicroTime,
  toEventList,
} from "../bench/gen/events.js";
import { makeRng } from "../bench/gen/rng.js";
import {
  createChainTable,
  insertBatch,
  type PgServer,
  PostgresUnavailable,
  startPostgres,
  verifyChain,
} from "../bench/baselines/postgres.js";
import {
  formatTable,
  intOption,
  measure,
  type Measurement,
  parseBenchArgs,
  percentile,
} from "../bench/harness.js";
import { PeriodicTree } from "../bench/lib/synthetic-tree.js";
import {
  byCodeSince,
  byUserVerbSince,
  createForensicIndexes,
  objectHistory,
  runForensic,
} from "../bench/baselines/postgres-queries.js";
import {
  hashLeaf,
  inclusionProof,
  proveInclusion,
  rootFromLeafHashes,
  tileHashReader,
  treeHash,
} from "../src/tlog/index.js";
import { LEVELS, STAGES, type AuditEvent } from "../src/audit/types.js";

function digest(lines: Iterable<string>): string {
  const h = createHash("sha256");
  for (const l of lines) h.update(l).update("\n");
  return h.digest("hex");
}

const N = 20_000;
const events: AuditEvent[] = [...generateEvents({ seed: 42, count: N })];

describe("rng", () => {
  it("is a fixed sequence for a seed (known answer)", () => {
    const a = makeRng(7);
    const b = makeRng(7);
    const xs = Array.from({ length: 5 }, () => a.int(1_000_000));
    expect(Array.from({ length: 5 }, () => b.int(1_000_000))).toEqual(xs);
    expect(makeRng(8).int(1_000_000)).not.toBe(xs[0]);
    expect(makeRng(7).uuid()).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
  it("rejects a non-integer seed", () => {
    expect(() => makeRng(1.5)).toThrow(/seed must be an integer/);
  });
});

describe("generateEvents", () => {
  it("gives the same bytes for the same seed and different bytes for another", () => {
    const a = digest(generateEventLines({ seed: 42, count: 3000 }));
    expect(digest(generateEventLines({ seed: 42, count: 3000 }))).toBe(a);
    expect(digest(generateEventLines({ seed: 43, count: 3000 }))).not.toBe(a);
  });

  it("a shorter run is a prefix of a longer one", () => {
    const short = [...generateEventLines({ seed: 9, count: 500 })];
    const long = [...generateEventLines({ seed: 9, count: 1500 })];
    expect(long.slice(0, 500)).toEqual(short);
  });

  it("yields exactly count events with valid shapes and increasing stage times", () => {
    expect(events).toHaveLength(N);
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const micro = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
    const problems: string[] = [];
    let last = 0;
    events.forEach((ev, i) => {
      const bad = (what: string): number => problems.push(`event ${i}: ${what}`);
      if (!LEVELS.includes(ev.level)) bad(`level ${ev.level}`);
      if (!STAGES.includes(ev.stage)) bad(`stage ${ev.stage}`);
      if (!uuid.test(ev.auditID)) bad(`auditID ${ev.auditID}`);
      if (!micro.test(ev.requestReceivedTimestamp) || !micro.test(ev.stageTimestamp)) bad("timestamp format");
      if (!ev.requestURI.startsWith("/")) bad(`requestURI ${ev.requestURI}`);
      if (typeof ev.user.username !== "string" || ev.sourceIPs?.length !== 1) bad("user or sourceIPs");
      if (ev.kind !== undefined) bad("kind on an EventList item");
      const t = parseMicroTime(ev.stageTimestamp);
      if (t < last || t < parseMicroTime(ev.requestReceivedTimestamp)) bad("time goes backwards");
      last = t;
      if (
        ev.stage === "RequestReceived" &&
        (ev.responseStatus !== undefined || ev.requestObject !== undefined)
      ) {
        bad("RequestReceived carries a response or body");
      }
      if (ev.stage !== "RequestReceived" && typeof ev.responseStatus?.code !== "number")
        bad("no response code");
      if (ev.level === "Metadata" && (ev.requestObject !== undefined || ev.responseObject !== undefined)) {
        bad("Metadata level carries a body");
      }
    });
    expect(problems.slice(0, 10)).toEqual([]);
  });

  it("pairs stages: every ResponseComplete follows its RequestReceived with the same auditID", () => {
    const received = new Set<string>();
    let complete = 0;
    for (const ev of events) {
      if (ev.stage === "RequestReceived") received.add(ev.auditID);
      else {
        expect(received.has(ev.auditID)).toBe(true);
        if (ev.stage === "ResponseComplete") complete++;
      }
    }
    expect(complete / received.size).toBeGreaterThan(0.85);
  });

  it("has a realistic mix of identities, verbs, levels and outcomes", () => {
    const count = (pred: (e: AuditEvent) => boolean): number => events.filter(pred).length / N;
    const system = count((e) => ["kubelet", "controller", "scheduler", "system"].includes(actorClassOf(e)));
    expect(system).toBeGreaterThan(0.55);
    expect(system).toBeLessThan(0.8);
    expect(count((e) => actorClassOf(e) === "serviceaccount")).toBeGreaterThan(0.15);
    const humans = count((e) => actorClassOf(e) === "human");
    expect(humans).toBeGreaterThan(0.01);
    expect(humans).toBeLessThan(0.1);
    for (const verb of ["get", "list", "watch", "create", "update", "patch", "delete"]) {
      expect(
        count((e) => e.verb === verb),
        verb,
      ).toBeGreaterThan(0.005);
    }
    expect(count((e) => e.verb === "get" || e.verb === "list" || e.verb === "watch")).toBeGreaterThan(0.35);
    expect(count((e) => e.level === "Metadata")).toBeGreaterThan(0.5);
    expect(count((e) => e.level === "RequestResponse")).toBeGreaterThan(0.05);
    const forbidden = events.filter((e) => e.responseStatus?.code === 403);
    expect(forbidden.length / N).toBeGreaterThan(0.001);
    expect(forbidden.length / N).toBeLessThan(0.05);
    for (const e of forbidden) expect(e.annotations?.["authorization.k8s.io/decision"]).toBe("forbid");
    expect(events.some((e) => e.objectRef?.subresource === "exec" && e.stage === "ResponseStarted")).toBe(
      true,
    );
    expect(events.some((e) => e.verb === "watch" && e.stage === "ResponseStarted")).toBe(true);
    expect(events.some((e) => e.objectRef?.namespace === "kube-system")).toBe(true);
    const groups = new Set(events.map((e) => e.objectRef?.apiGroup ?? ""));
    for (const g of ["", "apps", "rbac.authorization.k8s.io", "batch", "networking.k8s.io"])
      expect(groups).toContain(g);
  });

  it("has realistic body sizes: a few KB typical, some RequestResponse bodies of 100–400 KB", () => {
    const sizes = [...generateEventLines({ seed: 5, count: 30_000 })].map((l) => Buffer.byteLength(l));
    sizes.sort((a, b) => a - b);
    const median = sizes[sizes.length >> 1] as number;
    expect(median).toBeGreaterThan(500);
    expect(median).toBeLessThan(4000);
    const big = sizes.filter((s) => s >= 100_000 && s <= 420_000).length;
    expect(big).toBeGreaterThan(5);
    expect(big / sizes.length).toBeLessThan(0.01);
    const avg = averageSize({ seed: 5, count: 30_000 });
    expect(avg).toBeCloseTo(sizes.reduce((a, b) => a + b, 0) / sizes.length, 6);
  });
});

describe("formats", () => {
  it("log lines carry kind and apiVersion first; EventList items carry neither", () => {
    const [line] = generateEventLines({ seed: 1, count: 1 });
    expect(line?.startsWith('{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":')).toBe(true);
    const list = toEventList(generateEvents({ seed: 1, count: 10 }));
    expect(list.kind).toBe("EventList");
    expect(list.apiVersion).toBe("audit.k8s.io/v1");
    expect(list.items).toHaveLength(10);
    for (const item of list.items) expect(Object.keys(item)).not.toContain("kind");
    expect(JSON.parse(JSON.stringify(list))).toEqual(list);
  });

  it("MicroTime round-trips and uses six fraction digits", () => {
    expect(formatMicroTime(parseMicroTime("2026-11-21T05:58:25.096042Z"))).toBe(
      "2026-11-21T05:58:25.096042Z",
    );
    expect(formatMicroTime(parseMicroTime("2026-11-21T05:58:25Z"))).toBe("2026-11-21T05:58:25.000000Z");
    expect(() => parseMicroTime("yesterday")).toThrow(/RFC 3339/);
  });

  it("honours startTime and ratePerSecond", () => {
    const evs = [
      ...generateEvents({ seed: 3, count: 2000, startTime: "2027-01-01T00:00:00Z", ratePerSecond: 100 }),
    ];
    expect(evs[0]?.requestReceivedTimestamp.startsWith("2027-01-01T00:00:")).toBe(true);
    const span =
      (parseMicroTime(evs[evs.length - 1]?.stageTimestamp ?? "") -
        parseMicroTime(evs[0]?.stageTimestamp ?? "")) /
      1e6;
    expect(span).toBeGreaterThan(10);
    expect(span).toBeLessThan(40);
    expect(() => [...generateEvents({ seed: 3, count: -1 })]).toThrow(/count/);
  });
});

// The benchmark harness and baselines: the figures are only as good as these parts.
describe("bench harness", () => {
  it("percentile is nearest-rank", () => {
    const xs = [5, 1, 4, 2, 3, 6, 7, 8, 9, 10];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 99)).toBe(10);
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile([], 50)).toBeNaN();
  });

  it("parses --quick, --soak and --name=value", () => {
    const a = parseBenchArgs(["--quick", "--entries=1e6", "append", "--soak"]);
    expect(a).toMatchObject({ quick: true, soak: true, rest: ["append"] });
    expect(intOption(a, "entries", 5)).toBe(1_000_000);
    expect(intOption(a, "missing", 5)).toBe(5);
    expect(() => intOption(parseBenchArgs(["--entries=lots"]), "entries", 5)).toThrow(
      /--entries must be a positive integer/,
    );
  });

  it("formats a markdown table with ratios to the baseline row", () => {
    const row = (name: string, items: number, wallS: number): Measurement => ({
      name,
      items,
      wallS,
      cpuS: 1,
      peakRssMB: 10,
    });
    const t = formatTable([row("kubetrail", 1000, 1), row("plain", 1000, 0.5), row("pg", 1000, 4)], {
      baseline: "kubetrail",
      unit: "entries",
    });
    const lines = t.split("\n");
    expect(lines[0]).toBe("| system | entries | wall s | entries/s | CPU s | peak RSS MB | vs kubetrail |");
    expect(lines[2]?.endsWith("| 1.00× |")).toBe(true);
    expect(lines[3]?.endsWith("| 2.00× |")).toBe(true);
    expect(lines[4]?.endsWith("| 0.25× |")).toBe(true);
    const timed = formatTable([row("a", 10, 2), row("b", 10, 1)], { baseline: "a", compare: "time" });
    expect(timed.split("\n")[3]?.endsWith("| 2.00× |")).toBe(true);
  });

  it("measure reports wall time, CPU and RSS of the work", async () => {
    const m = await measure("spin", { items: 3 }, async (probe) => {
      for (let i = 0; i < 3; i++)
        await probe.time(async () =>
          createHash("sha256")
            .update(Buffer.alloc(1 << 20))
            .digest(),
        );
    });
    expect(m.items).toBe(3);
    expect(m.latenciesMs).toHaveLength(3);
    expect(m.wallS).toBeGreaterThan(0);
    expect(m.peakRssMB).toBeGreaterThan(10);
  });
});

describe("synthetic tree for proofs at 10 million entries", () => {
  it("is the RFC 6962 tree of its entries (root and proofs agree with the tlog library)", async () => {
    const tree = new PeriodicTree();
    for (const size of [1, 255, 256, 257, 1000, 4097]) {
      const leaves = Array.from({ length: size }, (_, i) => hashLeaf(Buffer.from(tree.entry(i))));
      const root = rootFromLeafHashes(leaves);
      expect(Buffer.from(await treeHash(size, tree.hashReader())).toString("hex"), `size ${size}`).toBe(
        Buffer.from(root).toString("hex"),
      );
      const reader = tileHashReader(size, tree.tileReader(), root);
      const index = Math.floor(size / 3);
      const proof = await proveInclusion(size, index, reader);
      expect(proof.map((h) => Buffer.from(h).toString("hex"))).toEqual(
        inclusionProof(index, size, leaves).map((h) => Buffer.from(h).toString("hex")),
      );
    }
  });
});

describe("PostgreSQL hash-chain baseline (real server)", () => {
  it("chains rows in the trigger and the re-walk finds a rewritten row", { timeout: 120_000 }, async () => {
    let pg: PgServer;
    try {
      pg = await startPostgres();
    } catch (err) {
      if (err instanceof PostgresUnavailable) {
        console.warn(`skipped: ${err.message}`);
        return;
      }
      throw err;
    }
    try {
      const client = await pg.client();
      try {
        await createChainTable(client);
        const lines = [...generateEventLines({ seed: 8, count: 50 })];
        await insertBatch(client, lines.slice(0, 20));
        await insertBatch(client, lines.slice(20));
        expect(await verifyChain(client)).toEqual({ rows: 50, broken: 0 });
        const head = await client.query<{ id: string; ok: boolean }>(
          "SELECT id, hash = sha256(prev_hash || convert_to(event::text, 'UTF8')) AS ok FROM audit_events ORDER BY id LIMIT 1",
        );
        expect(head.rows[0]).toEqual({ id: "1", ok: true });
        await client.query(
          `UPDATE audit_events SET event = jsonb_set(event, '{verb}', '"tampered"') WHERE id = 7`,
        );
        expect((await verifyChain(client)).broken).toBeGreaterThan(0);

        // The forensic SQL answers what a plain filter over the same events answers.
        await createForensicIndexes(client);
        const events = lines
          .map((l) => JSON.parse(l) as AuditEvent)
          .map((e, i) => (i === 6 ? { ...e, verb: "tampered" } : e));
        const done = events.filter((e) => e.stage === "ResponseComplete");
        const since = done[10]?.requestReceivedTimestamp ?? "";
        const someone = done.find((e) => e.verb === "get")?.user.username ?? "";
        const want = (pred: (e: AuditEvent) => boolean): string[] => done.filter(pred).map((e) => e.auditID);
        expect(await runForensic(client, byUserVerbSince(someone, "get", since))).toEqual(
          want((e) => e.user.username === someone && e.verb === "get" && e.requestReceivedTimestamp >= since),
        );
        expect(await runForensic(client, byCodeSince(200, since))).toEqual(
          want((e) => e.responseStatus?.code === 200 && e.requestReceivedTimestamp >= since),
        );
        const changed = done.find((e) => e.verb === "update" && e.objectRef?.namespace !== undefined);
        const ref = changed?.objectRef ?? {};
        const history = await runForensic(
          client,
          objectHistory(ref.resource ?? "", ref.apiGroup ?? "", ref.namespace ?? "", ref.name ?? ""),
        );
        expect(history).toEqual(
          want(
            (e) =>
              e.objectRef?.resource === ref.resource &&
              (e.objectRef?.apiGroup ?? "") === (ref.apiGroup ?? "") &&
              e.objectRef?.namespace === ref.namespace &&
              e.objectRef?.name === ref.name &&
              ["create", "update", "patch", "delete", "deletecollection"].includes(e.verb),
          ),
        );
        expect(history.length).toBeGreaterThan(0);
      } finally {
        await client.end();
      }
    } finally {
      await pg.stop();
    }
  });
});
