// Damaged derived files on a real `kubetrail serve`: each is repaired or rebuilt from the log
// with a warning, never fatal, and nothing is lost or raised twice because of it.
// DATA/detect.position: not a number, negative, beyond the log. DATA/follow/<id>.json: junk.
import { appendFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { toEventList } from "../../bench/gen/events.js";
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
