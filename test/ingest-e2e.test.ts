// End to end over real processes: `serve` receiving EventLists shaped like the apiserver's webhook
// backend over HTTPS (token and mutual TLS), `import` of the same events as a log file, and
// `verify` of both logs.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { parsePolicyText } from "../src/audit/policy/load.js";
import { openFsLog } from "../src/store/fs/storage.js";
import { apiserverEvents, eventList, logFileText } from "./fixtures/audit/events.js";
import { request, type Reply } from "./fixtures/audit/request.js";
import { runCli } from "./fixtures/cli.js";
import { startServe, type ServeProcess } from "./fixtures/audit/serve-process.js";
import { tempDir } from "./fixtures/audit/temp-dir.js";

const events = apiserverEvents(1200, { seed: 42, bigEvery: 40 });
const batches: string[] = [];
for (let i = 0; i < events.length; i += 400) batches.push(eventList(events.slice(i, i + 400)));

/** The log's entries, sorted; by default only audit events (serve's detector may add alerts). */
async function entrySet(dir: string, all = false): Promise<string[]> {
  const log = await openFsLog(dir);
  try {
    const out: string[] = [];
    for await (const e of log.readEntries(0, log.size())) out.push(Buffer.from(e.data!).toString("utf8"));
    return out.filter((e) => all || e.startsWith('{"kind":"Event","apiVersion":"audit.k8s.io/v1",')).sort();
  } finally {
    await log.close();
  }
}

/** Full entry bundles stored plain and compressed (partial bundles, under `.p/`, aside). */
function bundleFiles(dir: string): { plain: number; compressed: number } {
  const names = readdirSync(path.join(dir, "tile", "entries"), { recursive: true, encoding: "utf8" });
  const base = names.filter((n) => !n.includes(".p")).map((n) => path.basename(n));
  return {
    plain: base.filter((n) => /^[0-9]{3}$/.test(n)).length,
    compressed: base.filter((n) => /^[0-9]{3}\.zst$/.test(n)).length,
  };
}

function keys(entries: string[]): string[] {
  return entries.map((e) => {
    const ev = JSON.parse(e) as { auditID: string; stage: string };
    return `${ev.auditID}/${ev.stage}`;
  });
}

describe("webhook over HTTPS with the generated certificate and ingest token", () => {
  const dir = tempDir("kt-e2e-webhook-");
  let serve: ServeProcess;
  let ca: string;
  let token: string;
  const agent = new https.Agent({ keepAlive: true, maxSockets: 8 });
  const post = (body: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> =>
    request(serve.port, {
      method: "POST",
      path: "/v1/audit/webhook",
      body,
      ca,
      agent,
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}`, ...headers },
    });

  /**
   * A body the server refuses before reading it all: the server answers and closes while this
   * client is still sending, and TCP may then reset the connection before the answer is read
   * (EPIPE/ECONNRESET here). A real sender retries; so does this, a few times.
   */
  // Attempts made by postRefusedEarly: the server counts a refusal each time, also when the
  // client only saw the connection reset after it (retried), so /metrics may count more than one.
  let refusedEarlyAttempts = 0;
  const postRefusedEarly = async (body: Buffer): Promise<Reply> => {
    for (let attempt = 1; ; attempt++) {
      refusedEarlyAttempts++;
      try {
        return await post(body);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (attempt === 5 || (code !== "EPIPE" && code !== "ECONNRESET")) throw err;
      }
    }
  };

  beforeAll(async () => {
    serve = await startServe(["--data", dir, "--listen", "127.0.0.1:0", "--max-body", "4Mi"]);
    ca = readFileSync(path.join(dir, "tls", "ca.crt"), "utf8");
    token = readFileSync(path.join(dir, "ingest-token"), "utf8").trim();
    expect(statSync(path.join(dir, "ingest-token")).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, "tls", "tls.key")).mode & 0o777).toBe(0o600);
  });
  afterAll(async () => {
    agent.destroy();
    if (serve !== undefined && serve.child.exitCode === null) await serve.stop();
  });

  it("stores batches (plain and gzip), absorbs identical and concurrent retries", async () => {
    const first = await post(batches[0]!);
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body)).toMatchObject({ received: 400, stored: 400 });
    const gz = await post(gzipSync(batches[1]!), { "Content-Encoding": "gzip" });
    expect(gz.status).toBe(200);
    // The apiserver re-sends byte-identical batches after a failure; several may overlap.
    const replies = await Promise.all([
      post(batches[2]!),
      post(batches[2]!),
      post(batches[1]!),
      post(batches[0]!),
    ]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const stored = replies.reduce((n, r) => n + (JSON.parse(r.body) as { stored: number }).stored, 0);
    expect(stored).toBe(400);
  });

  it("answers every bad request with a 4xx and a reason, storing nothing; quarantines invalid items", async () => {
    const item = JSON.parse(batches[0]!).items[0] as Record<string, unknown>;
    const cases: [string, Reply, number, RegExp][] = [
      ["not JSON", await post("{oops"), 400, /body is not JSON/],
      [
        "wrong kind",
        await post(JSON.stringify({ kind: "Event", apiVersion: "audit.k8s.io/v1" })),
        400,
        /is not EventList/,
      ],
      [
        "wrong apiVersion",
        await post(eventList([], "audit.k8s.io/v2")),
        400,
        /apiVersion "audit.k8s.io\/v2"/,
      ],
      ["too big", await postRefusedEarly(Buffer.alloc(5 * 1024 * 1024, 0x20)), 413, /exceeds the limit/],
      ["not JSON media", await post("x", { "Content-Type": "text/plain" }), 415, /not application\/json/],
      ["no credential", await post(batches[0]!, { Authorization: "" }), 401, /credential required/],
      [
        "wrong token",
        await post(batches[0]!, { Authorization: "Bearer wrong-token-value" }),
        403,
        /not valid/,
      ],
    ];
    for (const [name, reply, status, reason] of cases) {
      expect({ name, status: reply.status }).toEqual({ name, status });
      expect(JSON.parse(reply.body).error).toMatch(reason);
    }
    // An invalid item is quarantined, not the batch refused: 200, counted and named.
    const quarantined: [string, Reply, RegExp][] = [
      [
        "no auditID",
        await post(eventList([{ ...item, auditID: undefined } as never])),
        /items\[0\]: field auditID/,
      ],
      [
        "no stage",
        await post(eventList([{ ...item, stage: undefined } as never])),
        /items\[0\]: field stage/,
      ],
      [
        "no timestamp",
        await post(eventList([{ ...item, stageTimestamp: undefined } as never])),
        /items\[0\]: field stageTimestamp/,
      ],
    ];
    for (const [name, reply, reason] of quarantined) {
      expect({ name, status: reply.status }).toEqual({ name, status: 200 });
      const answer = JSON.parse(reply.body) as {
        stored: number;
        quarantined: number;
        rejected: { message: string }[];
      };
      expect(answer).toMatchObject({ stored: 0, quarantined: 1 });
      expect(answer.rejected[0]!.message).toMatch(reason);
    }
    const metrics = (await request(serve.port, { path: "/metrics", ca })).body;
    expect(metrics).toMatch(/kubetrail_requests_rejected_total\{reason="not_json"\} 1/);
    const tooLarge = Number(
      /kubetrail_requests_rejected_total\{reason="too_large"\} (\d+)/.exec(metrics)?.[1],
    );
    expect(tooLarge).toBeGreaterThanOrEqual(1);
    expect(tooLarge).toBeLessThanOrEqual(refusedEarlyAttempts);
    expect(metrics).toMatch(/kubetrail_requests_rejected_total\{reason="quarantined_item"\} 3/);
    expect(metrics).toMatch(/kubetrail_auth_failures_total\{scope="ingest",code="401"\} 1/);
    expect(metrics).toMatch(/kubetrail_events_stored_total\{source="webhook"\} 1200/);
    expect(metrics).toMatch(/kubetrail_events_duplicate_total\{source="webhook"\} 1200/);
    expect(metrics).toMatch(/kubetrail_webhook_ack_seconds_count \d+/);
  });

  it("shuts down on SIGTERM, then the log verifies and holds every event once", async () => {
    expect(await serve.stop()).toBe(0);
    const entries = await entrySet(dir);
    expect(entries.length).toBe(1200);
    expect(new Set(keys(entries)).size).toBe(1200);
    const verify = await runCli(["verify", "--data", dir]);
    expect(verify.code, verify.stderr).toBe(0);
  });

  it("stores the same entries from an imported log file, and re-imports add nothing", async () => {
    const importDir = tempDir("kt-e2e-import-");
    const file = path.join(importDir, "audit.log");
    writeFileSync(file, logFileText(events));
    const data = path.join(importDir, "data");
    const first = await runCli(["import", "--data", data, file, "-o", "json"]);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      read: 1200,
      stored: 1200,
      duplicates: 0,
      rejectedCount: 0,
    });
    // A one-shot import leaves its full bundles compressed, as a running serve would.
    expect(bundleFiles(data)).toEqual({ plain: 0, compressed: Math.floor(1200 / 256) });
    const again = await runCli(["import", "--data", data, file, "-o", "json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({ stored: 0, duplicates: 1200 });
    // The webhook's log already has these events: importing the file there adds nothing either.
    const intoWebhookLog = await runCli(["import", "--data", dir, file, "-o", "json"]);
    expect(JSON.parse(intoWebhookLog.stdout)).toMatchObject({ stored: 0, duplicates: 1200 });
    expect(await entrySet(data)).toEqual(await entrySet(dir));
    expect((await runCli(["verify", "--data", data])).code).toBe(0);
  });
});

describe("import refuses what it cannot read twice", () => {
  it("a pipe, and `-`, each with a clear error and nothing written", async () => {
    const work = tempDir("kt-e2e-pipe-");
    const fifo = path.join(work, "audit.fifo");
    execFileSync("mkfifo", [fifo]);
    const data = path.join(work, "data");
    const piped = await runCli(["import", "--data", data, fifo]);
    expect(piped.code).toBe(2);
    expect(piped.stderr).toContain(`${fifo}: not a regular file (a pipe or a device)`);
    const stdin = await runCli(["import", "--data", data, "-"]);
    expect(stdin.code).toBe(2);
    expect(stdin.stderr).toContain("standard input is not read");
    expect(existsSync(data)).toBe(false);
  });
});

describe("mutual TLS with the files from apiserver-config", () => {
  const work = tempDir("kt-e2e-mtls-");
  const out = path.join(work, "apiserver");
  let serve: ServeProcess;
  let kubeconfig: {
    clusters: { cluster: Record<string, string> }[];
    users: { user: Record<string, string> }[];
  };

  beforeAll(async () => {
    const gen = await runCli([
      "apiserver-config",
      "--server",
      "https://localhost:8443",
      "--out",
      out,
      "--san",
      "127.0.0.1",
    ]);
    expect(gen.code, gen.stderr).toBe(0);
    expect(gen.stdout).toContain(
      "--audit-webhook-config-file=/etc/kubernetes/kubetrail/audit-webhook-kubeconfig.yaml",
    );
    expect(gen.stdout).toContain("--audit-webhook-mode=batch");
    expect(gen.stdout).toContain("--audit-webhook-batch-max-size=400");
    expect(gen.stdout).toContain("hostPath:");
    for (const secret of [
      "ca.key",
      "kubetrail.key",
      "apiserver-client.key",
      "audit-webhook-kubeconfig.yaml",
    ]) {
      expect(statSync(path.join(out, secret)).mode & 0o777).toBe(0o600);
    }
    kubeconfig = parseYaml(
      readFileSync(path.join(out, "audit-webhook-kubeconfig.yaml"), "utf8"),
    ) as typeof kubeconfig;
    serve = await startServe([
      "--data",
      path.join(work, "data"),
      "--listen",
      "127.0.0.1:0",
      "--tls-cert",
      path.join(out, "kubetrail.crt"),
      "--tls-key",
      path.join(out, "kubetrail.key"),
      "--client-ca",
      path.join(out, "ca.crt"),
    ]);
  });
  afterAll(async () => {
    if (serve !== undefined && serve.child.exitCode === null) await serve.stop();
  });

  it("writes a starting policy that parses and keeps Secret contents out", () => {
    const policy = parsePolicyText(
      readFileSync(path.join(out, "audit-policy.yaml"), "utf8"),
      "audit-policy.yaml",
    );
    expect(policy.rules.length).toBeGreaterThan(3);
    // The first rule naming Secrets (rules match in order) keeps them at Metadata: never their contents.
    const doc = parseYaml(readFileSync(path.join(out, "audit-policy.yaml"), "utf8")) as {
      rules: { level: string; resources?: { resources?: string[] }[] }[];
    };
    const secretsRule = doc.rules.find((r) => r.resources?.some((g) => g.resources?.includes("secrets")));
    expect(secretsRule?.level).toBe("Metadata");
    expect(secretsRule?.resources?.[0]?.resources).toEqual(expect.arrayContaining(["secrets", "configmaps"]));
  });

  it("accepts the apiserver's client certificate from the kubeconfig, and nothing else", async () => {
    const b64 = (s: string) => Buffer.from(s, "base64").toString("utf8");
    const ca = b64(kubeconfig.clusters[0]!.cluster["certificate-authority-data"]!);
    const cert = b64(kubeconfig.users[0]!.user["client-certificate-data"]!);
    const key = b64(kubeconfig.users[0]!.user["client-key-data"]!);
    expect(kubeconfig.clusters[0]!.cluster.server).toBe("https://localhost:8443/v1/audit/webhook");
    const post = (opts: { cert?: string; key?: string; headers?: Record<string, string> }) =>
      request(serve.port, {
        method: "POST",
        path: "/v1/audit/webhook",
        body: batches[0]!,
        ca,
        headers: { "Content-Type": "application/json", ...opts.headers },
        cert: opts.cert,
        key: opts.key,
      });
    expect((await post({ cert, key })).status).toBe(200);
    expect((await post({})).status).toBe(401);
    // No ingest token is generated when client certificates are configured.
    expect((await post({ headers: { Authorization: "Bearer anything-at-all-here" } })).status).toBe(403);
  });
});

describe("serve following the live audit log file", () => {
  it("stores lines appended to the followed file, settings taken from env and a config file", async () => {
    const work = tempDir("kt-e2e-follow-");
    const live = path.join(work, "audit.log");
    writeFileSync(live, logFileText(events.slice(0, 100)));
    const config = path.join(work, "serve.yaml");
    writeFileSync(config, `follow-audit-log: ${live}\nlisten: 127.0.0.1:1\n`);
    // The env var beats the file's listen; the file supplies follow-audit-log.
    const serve = await startServe(["--data", path.join(work, "data"), "--config", config], {
      KUBETRAIL_LISTEN: "127.0.0.1:0",
    });
    try {
      const ca = readFileSync(path.join(work, "data", "tls", "ca.crt"), "utf8");
      const stored = async () => {
        const m = /kubetrail_events_stored_total\{source="follow"\} (\d+)/.exec(
          (await request(serve.port, { path: "/metrics", ca })).body,
        );
        return Number(m?.[1] ?? 0);
      };
      for (let i = 0; i < 200 && (await stored()) < 100; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await stored()).toBe(100);
      writeFileSync(live, logFileText(events.slice(100, 150)), { flag: "a" });
      for (let i = 0; i < 200 && (await stored()) < 150; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await stored()).toBe(150);
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  });
});

describe("graceful shutdown", () => {
  it("on SIGTERM during ingest, every acknowledged event is in the log", async () => {
    const dir = tempDir("kt-e2e-term-");
    const serve = await startServe(["--data", dir, "--listen", "127.0.0.1:0"]);
    const ca = readFileSync(path.join(dir, "tls", "ca.crt"), "utf8");
    const token = readFileSync(path.join(dir, "ingest-token"), "utf8").trim();
    const sends = batches.map((body) =>
      request(serve.port, {
        method: "POST",
        path: "/v1/audit/webhook",
        body,
        ca,
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      }).catch(() => undefined),
    );
    await new Promise((r) => setTimeout(r, 20));
    const exit = serve.stop();
    const replies = await Promise.all(sends);
    expect(await exit).toBe(0);
    const acked = new Set<string>();
    replies.forEach((r, i) => {
      if (r?.status === 200)
        for (const e of events.slice(i * 400, i * 400 + 400)) acked.add(`${e.auditID}/${e.stage}`);
    });
    const stored = new Set(keys(await entrySet(dir)));
    for (const k of acked) expect(stored.has(k)).toBe(true);
    expect((await runCli(["verify", "--data", dir])).code).toBe(0);
  });
});

describe("serve runs the detector over what it ingests", () => {
  it("raises the built-in namespace-deleted alert to stdout and into the log", async () => {
    const dir = tempDir("kt-e2e-detect-");
    const serve = await startServe(["--data", dir, "--listen", "127.0.0.1:0"]);
    try {
      const ca = readFileSync(path.join(dir, "tls", "ca.crt"), "utf8");
      const token = readFileSync(path.join(dir, "ingest-token"), "utf8").trim();
      const base = events.find((e) => e.stage === "ResponseComplete")!;
      const deletion = {
        ...base,
        auditID: "0c9f2d7e-5b1a-4c3e-9d8f-7a6b5c4d3e2f",
        requestURI: "/api/v1/namespaces/payments",
        verb: "delete",
        user: { username: "mallory@example.com", groups: ["system:authenticated"] },
        objectRef: { resource: "namespaces", name: "payments", apiVersion: "v1" },
        responseStatus: { metadata: {}, code: 200 },
      };
      const r = await request(serve.port, {
        method: "POST",
        path: "/v1/audit/webhook",
        body: eventList([deletion]),
        ca,
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      });
      expect(r.status).toBe(200);
      const alerted = () => serve.logs.some((l) => JSON.stringify(l).includes("namespace-deleted"));
      for (let i = 0; i < 200 && !alerted(); i++) await new Promise((res) => setTimeout(res, 50));
      expect(alerted()).toBe(true);
    } finally {
      expect(await serve.stop()).toBe(0);
    }
    const entries = await entrySet(dir, true);
    expect(entries.some((e) => e.includes('"kubetrail.dev/v1"') && e.includes("namespace-deleted"))).toBe(
      true,
    );
  });
});

describe("import summary", () => {
  it("names rejected lines by file and number, exits 1, and orders rotated gzip files first", async () => {
    const work = tempDir("kt-e2e-summary-");
    const rotated = path.join(work, "audit-2026-11-21T05-00-00.000.log.gz");
    const live = path.join(work, "audit.log");
    writeFileSync(rotated, gzipSync(logFileText(events.slice(0, 10))));
    writeFileSync(live, logFileText(events.slice(10, 20)) + "{broken\n" + logFileText(events.slice(20, 25)));
    const r = await runCli(["import", "--data", path.join(work, "data"), live, rotated, "--no-progress"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("files 2, lines read 26, stored 25, duplicates 0, rejected 1\n");
    expect(r.stdout).toContain(`rejected ${live}:11: not JSON`);
    const log = await openFsLog(path.join(work, "data"));
    try {
      const inOrder: string[] = [];
      for await (const e of log.readEntries(0, log.size())) {
        inOrder.push((JSON.parse(Buffer.from(e.data!).toString()) as { auditID: string }).auditID);
      }
      expect(inOrder).toHaveLength(25);
      // The rotated (older) file's events come first.
      expect([inOrder[0], inOrder[24]]).toEqual([events[0]!.auditID, events[24]!.auditID]);
    } finally {
      await log.close();
    }
  });
});
