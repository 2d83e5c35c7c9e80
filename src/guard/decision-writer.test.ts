import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openFsLog } from "../store/fs/storage.js";
import { LogError, type AuditLog, type LogWriter } from "../store/types.js";
import { hashLeaf, readHashesChecked, storedHashIndex } from "../tlog/index.js";
import { DecisionWriter } from "./decision-writer.js";

const dirs: string[] = [];
const logs: AuditLog[] = [];

afterEach(async () => {
  for (const log of logs.splice(0)) await log.close().catch(() => undefined);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function realLog(): Promise<AuditLog> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "guard-decisions-"));
  dirs.push(dir);
  const log = await openFsLog(dir, { integrateIntervalMs: 20 });
  logs.push(log);
  return log;
}

/** The real log, with each append's size (and whether leaf hashes came with it) noted. */
function counting(log: AuditLog): { writer: LogWriter; appends: { count: number; leaves: boolean }[] } {
  const appends: { count: number; leaves: boolean }[] = [];
  return {
    appends,
    writer: {
      append: (entries, leaves) => {
        appends.push({ count: entries.length, leaves: leaves !== undefined });
        return log.append(entries, leaves);
      },
    },
  };
}

const entry = (i: number) =>
  new TextEncoder().encode(JSON.stringify({ kind: "AdmissionDecision", uid: `u${i}` }));
const tick = () => new Promise((r) => setImmediate(r));

describe("DecisionWriter", () => {
  it("appends the decisions of one turn together, each resolved with its own index", async () => {
    const log = await realLog();
    const { writer, appends } = counting(log);
    const decisions = new DecisionWriter(writer);
    const indexes = await Promise.all(Array.from({ length: 40 }, (_, i) => decisions.append(entry(i))));
    expect(appends).toEqual([{ count: 40, leaves: true }]);
    expect(indexes).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // Durable and in order, and the leaf hashes handed to the log are the entries' own: the
    // integrated tree's level-0 hashes are what a verifier recomputes from the bytes.
    const checkpoint = await log.waitIntegrated(40);
    expect(checkpoint.size).toBe(40);
    const got: string[] = [];
    for await (const e of log.readEntries(0, 40)) got.push(new TextDecoder().decode(e.data));
    expect(got).toEqual(Array.from({ length: 40 }, (_, i) => new TextDecoder().decode(entry(i))));
    const stored = await readHashesChecked(
      log.hashReader(),
      Array.from({ length: 40 }, (_, i) => storedHashIndex(0, i)),
    );
    expect(stored.map((h) => Buffer.from(h).toString("hex"))).toEqual(
      Array.from({ length: 40 }, (_, i) => Buffer.from(hashLeaf(entry(i))).toString("hex")),
    );
  });

  it("decisions made while a commit runs wait for it and share the next one", async () => {
    const log = await realLog();
    const { writer, appends } = counting(log);
    const decisions = new DecisionWriter(writer, { spacingMs: 30 });
    const first = decisions.append(entry(0));
    await tick(); // the first commit has started
    expect(appends).toHaveLength(1);
    const later: Promise<number>[] = [];
    for (let i = 1; i <= 5; i++) {
      later.push(decisions.append(entry(i)));
      await tick();
    }
    expect(await first).toBe(0);
    expect(await Promise.all(later)).toEqual([1, 2, 3, 4, 5]);
    expect(appends.map((a) => a.count)).toEqual([1, 5]);
  });

  it("holds a decision only while commits come closer than the spacing", async () => {
    const log = await realLog();
    let clock = 0;
    const decisions = new DecisionWriter(log, { spacingMs: 200, now: () => clock });
    expect(await decisions.append(entry(0))).toBe(0);
    // 50 ms after the last commit started: held until 200 ms have passed since then.
    clock = 50;
    let settled = false;
    const held = decisions.append(entry(1)).then((i) => ((settled = true), i));
    await new Promise((r) => setTimeout(r, 60));
    expect(settled).toBe(false);
    expect(await held).toBe(1);
    // After a quiet spell longer than the spacing: appended at once. With a minute's spacing,
    // holding it would show as the timeout winning the race.
    const slow = new DecisionWriter(log, { spacingMs: 60_000, now: () => clock });
    clock = 0;
    expect(await slow.append(entry(2))).toBe(2);
    clock = 120_000;
    const quiet = slow.append(entry(3));
    expect(await Promise.race([quiet, new Promise((r) => setTimeout(() => r("held"), 20_000))])).toBe(3);
  });

  it("a failed append rejects every decision of its group with the log's error", async () => {
    const log = await realLog();
    await log.close();
    const decisions = new DecisionWriter(log);
    const results = await Promise.allSettled([0, 1, 2].map((i) => decisions.append(entry(i))));
    for (const r of results) {
      expect(r.status).toBe("rejected");
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(LogError);
    }
  });
});
