// Disk full: the data directory sits on an 8 MiB tmpfs. Ingest must answer 503 (never 500, never
// crash) once the disk is full, lose nothing it acknowledged, and accept events again once the
// filesystem is grown — without a restart. Needs root for mount(8); skipped with a message otherwise.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Batch, makeBatches, sendBatches, type SendOutcome } from "./event-batches.js";
import {
  call,
  readLog,
  removeDir,
  requireBuiltCli,
  runVerify,
  type Serve,
  sleep,
  startServe,
  tempDir,
} from "./serve-process.js";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("disk-full fault test skipped: mounting a size-limited tmpfs needs root");

describe.skipIf(!isRoot)("disk full on the data directory", () => {
  let dir: string;
  let mnt: string;
  let mounted = false;
  let serve: Serve | undefined;

  beforeAll(() => {
    requireBuiltCli();
    dir = tempDir("diskfull");
    mnt = `${dir}/mnt`;
    mkdirSync(mnt);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", mnt]);
    mounted = true;
  });

  afterAll(async () => {
    await serve?.kill("SIGKILL");
    if (mounted) execFileSync("umount", ["-l", mnt]);
    removeDir(dir);
  });

  it(
    "answers 503 when full, keeps what it acknowledged, resumes when space returns",
    { timeout: 240_000 },
    async () => {
      const dataDir = `${mnt}/data`;
      serve = await startServe(dataDir);
      const s = serve;
      const batches = makeBatches(777, 12_000, 40);
      const queue: Batch[] = [...batches];
      const outcome: SendOutcome = { acked: new Set(), statuses: new Map(), errors: [] };

      // Fill the disk: send until refusals pile up.
      let refusals = 0;
      await sendBatches(s, queue, outcome, {
        senders: 2,
        stop: () => {
          refusals = [...outcome.statuses].filter(([st]) => st !== 200).reduce((n, [, c]) => n + c, 0);
          return refusals >= 20;
        },
      });
      const statuses = `${JSON.stringify(Object.fromEntries(outcome.statuses))} ${JSON.stringify(outcome.errors)}\n${s.output().slice(-3000)}`;
      expect(outcome.statuses.get(503) ?? 0, statuses).toBeGreaterThan(0);
      for (const st of outcome.statuses.keys())
        expect([200, 503, 429], JSON.stringify(statuses)).toContain(st);
      expect(outcome.acked.size).toBeGreaterThan(0);
      const ackedWhileFull = new Set(outcome.acked);

      // Still alive and honest about it.
      expect((await call(s, { path: "/healthz" })).status).toBe(200);

      // Space returns: the same server takes the rest (the apiserver keeps retrying).
      execFileSync("mount", ["-o", "remount,size=256m", mnt]);
      const deadline = Date.now() + 60_000;
      while (queue.length > 0 && Date.now() < deadline) {
        await sendBatches(s, queue, outcome, { senders: 2 });
        if (queue.length > 0) await sleep(500);
      }
      expect(queue.map((b) => b.id).slice(0, 5), "batches never accepted after space returned").toEqual([]);

      expect(await s.kill("SIGTERM")).toBe(0);
      serve = undefined;
      const verify = await runVerify(dataDir);
      expect(verify.code, JSON.stringify(verify.report.problems)).toBe(0);
      const counts = new Map<string, number>();
      for (const e of await readLog(dataDir)) {
        if (e.isAuditEvent)
          counts.set(`${e.auditID}/${e.stage}`, (counts.get(`${e.auditID}/${e.stage}`) ?? 0) + 1);
      }
      const bad = batches.flatMap((b) => b.keys).filter((k) => counts.get(k) !== 1);
      expect(bad.slice(0, 5)).toEqual([]);
      for (const id of ackedWhileFull)
        for (const k of (batches[id] as Batch).keys) expect(counts.get(k)).toBe(1);
    },
  );
});
