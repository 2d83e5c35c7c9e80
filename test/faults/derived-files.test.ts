// Damaged derived files on a real `kubetrail serve`: each is repaired or rebuilt from the log
// with a warning, never fatal, and nothing is lost or raised twice because of it.
// DATA/detect.position: not a number, negative, beyond the log. DATA/follow/<id>.json: junk.
import {
  appendFileSync,
  closeSync,
  openSync,
  readdirSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateEvents, toEventList } from "../../bench/gen/events.js";
import { makeRng } from "../../bench/gen/rng.js";
import type { AuditEvent } from "../../src/audit/types.js";
import { auditEvent } from "../detect-helpers.js";
import {
  call,
  postEvents,
  readLog,
  removeDir,
  type Serve,
  sleep,
  startServe,
  tempDir,
} from "./serve-process.js";

const dirs: string[] = [];
const running: Serve[] = [];

afterAll(async () => {
  for (const s of running) await s.kill("SIGKILL");
  for (const d of dirs) removeDir(d);
});

async function start(dataDir: string, args: string[] = []): Promise<Serve> {
  const s = await startServe(dataDir, args);
  running.push(s);
  return s;
}

/** Seeded random bytes over every page after the first few, as a bad disk would leave them. */
function damageIndex(file: string, seed: number): void {
  console.log(`index damage seed ${seed}`);
  const rng = makeRng(seed);
  const fd = openSync(file, "r+");
  try {
    for (let p = 4; p < Math.floor(statSync(file).size / 4096); p++) {
      const junk = Buffer.alloc(4096);
      for (let i = 0; i < junk.length; i++) junk[i] = rng.int(256);
      writeSync(fd, junk, 0, junk.length, p * 4096);
    }
  } finally {
    closeSync(fd);
  }
}

function namespaceDeleted(name: string): AuditEvent {
  return auditEvent({
    verb: "delete",
    requestURI: `/api/v1/namespaces/${name}`,
    objectRef: { resource: "namespaces", name, apiVersion: "v1" },
  });
}

/** Waits until serve's detector has raised `n` alerts since it started. */
async function alertsRaised(serve: Serve, n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const text = (await call(serve, { path: "/metrics" })).body;
    const raised = [...text.matchAll(/^kubetrail_alert_raised_total\{[^}]*\} (\d+)/gm)].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
    if (raised >= n) return;
    await sleep(100);
  }
  throw new Error(`fewer than ${n} alerts raised:\n${serve.output().slice(-2000)}`);
}

/** The namespaces named by the Alert entries in the (stopped) log. */
async function alertedNamespaces(dataDir: string): Promise<string[]> {
  const names: string[] = [];
  for (const e of await readLog(dataDir)) {
    const rec = JSON.parse(Buffer.from(e.bytes).toString("utf8")) as {
      kind?: string;
      object?: { name?: string };
    };
    if (rec.kind === "Alert") names.push(rec.object?.name ?? "?");
  }
  return names.sort();
}

describe("damaged derived files", () => {
  for (const [what, content] of [
    ["not a number", "zzz\n"],
    ["negative", "-5\n"],
    ["beyond the log", "999999999\n"],
  ] as const) {
    it(`rebuilds detect.position when it is ${what}, without raising an alert twice`, async () => {
      const dir = tempDir("derived");
      dirs.push(dir);
      const dataDir = `${dir}/data`;
      const first = await start(dataDir);
      const filler = Array.from({ length: 30 }, () => auditEvent());
      expect(
        (await postEvents(first, JSON.stringify(toEventList([...filler, namespaceDeleted("one")])))).status,
      ).toBe(200);
      await alertsRaised(first, 1);
      expect(await first.kill("SIGTERM")).toBe(0);

      writeFileSync(path.join(dataDir, "detect.position"), content);
      const second = await start(dataDir);
      expect(second.output()).toMatch(/"msg":"detector position rebuilt"/);
      expect(second.output()).toMatch(
        /detect\.position: .*rebuilt from the log: detection resumes at entry 31 /,
      );
      const more = Array.from({ length: 5 }, () => auditEvent());
      expect(
        (await postEvents(second, JSON.stringify(toEventList([namespaceDeleted("two"), ...more])))).status,
      ).toBe(200);
      await alertsRaised(second, 1);
      expect((await call(second, { path: "/healthz" })).status).toBe(200);
      expect(await second.kill("SIGTERM")).toBe(0);
      expect(await alertedNamespaces(dataDir)).toEqual(["one", "two"]);
    });
  }

  it("rebuilds a damaged index.db on start, answering 503 (never 500) until it has, ingest ready throughout", async () => {
    const dir = tempDir("derived-index");
    dirs.push(dir);
    const dataDir = `${dir}/data`;
    const first = await start(dataDir, ["--no-detect"]);
    const events = [...generateEvents({ seed: 5, count: 3000 })];
    for (let i = 0; i < events.length; i += 500)
      expect((await postEvents(first, JSON.stringify(toEventList(events.slice(i, i + 500))))).status).toBe(
        200,
      );
    const query = "/v1/events?verb=delete,patch,create&limit=100";
    // The answer once the index has caught up: the same twice, half a second apart.
    let expected = "";
    for (let i = 0, previous = ""; i < 100; i++, await sleep(500)) {
      expected = (await call(first, { path: query, token: first.readToken })).body;
      if (expected === previous && expected.includes('"index"')) break;
      previous = expected;
    }
    expect(await first.kill("SIGTERM")).toBe(0);

    damageIndex(path.join(dataDir, "index.db"), 99);
    const second = await start(dataDir, ["--no-detect"]);
    const statuses = new Set<number>();
    const warned = () =>
      /"reason":"(quick_check|a query failed): [^"]+".*"msg":"query index damaged or missing: rebuilding it/.test(
        second.output(),
      );
    // SQLite's check runs beside serving: until it or a query finds the damage (whichever is
    // first) and the index is rebuilt, answers are 200 or 503, and ingest stays ready.
    let answer = "";
    for (let i = 0; i < 600 && !(warned() && answer === expected); i++) {
      expect((await call(second, { path: "/readyz" })).status).toBe(200);
      const r = await call(second, { path: query, token: second.readToken });
      statuses.add(r.status);
      if (r.status === 503)
        expect(JSON.parse(r.body).error).toMatch(/query index is being rebuilt from the log/);
      answer = r.status === 200 ? r.body : "";
      if (!(warned() && answer === expected)) await sleep(50);
    }
    expect([...statuses].filter((st) => st !== 200 && st !== 503)).toEqual([]);
    expect(
      warned(),
      second
        .output()
        .split("\n")
        .filter((l) => !l.includes(`"msg":"request"`))
        .join("\n"),
    ).toBe(true);
    expect(answer).toBe(expected);
    expect(await second.kill("SIGTERM")).toBe(0);
  });

  it("reads the followed file again from the start when its follow position is junk, storing each event once", async () => {
    const dir = tempDir("derived-follow");
    dirs.push(dir);
    const dataDir = `${dir}/data`;
    const auditLog = `${dir}/audit.log`;
    const lines = (events: AuditEvent[]) => events.map((e) => JSON.stringify(e) + "\n").join("");
    const before = Array.from({ length: 40 }, () => auditEvent());
    writeFileSync(auditLog, lines(before));
    const args = ["--follow-audit-log", auditLog, "--no-detect"];
    const first = await start(dataDir, args);
    const stored = async (serve: Serve, n: number) => {
      for (let i = 0; i < 200; i++) {
        const text = (await call(serve, { path: "/metrics" })).body;
        if (Number(/^kubetrail_events_stored_total\{source="follow"\} (\d+)/m.exec(text)?.[1] ?? 0) >= n)
          return;
        await sleep(100);
      }
      throw new Error(
        `fewer than ${n} events stored from the followed file:\n${serve.output().slice(-2000)}`,
      );
    };
    await stored(first, 40);
    expect(await first.kill("SIGTERM")).toBe(0);

    const followDir = path.join(dataDir, "follow");
    const [positionFile] = readdirSync(followDir);
    writeFileSync(path.join(followDir, positionFile!), '{"path": 12, "offset": -3');
    const after = Array.from({ length: 10 }, () => auditEvent());
    appendFileSync(auditLog, lines(after));
    const second = await start(dataDir, args);
    await stored(second, 10);
    expect(second.output()).toMatch(/"msg":"follow position rebuilt"/);
    expect(second.output()).toMatch(/not a follow position .*reading .* from the beginning/);
    expect(await second.kill("SIGTERM")).toBe(0);
    const ids = (await readLog(dataDir)).filter((e) => e.isAuditEvent).map((e) => e.auditID);
    expect(ids.sort()).toEqual([...before, ...after].map((e) => e.auditID).sort());
  });
});
