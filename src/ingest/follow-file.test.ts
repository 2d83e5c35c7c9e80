import { appendFileSync, renameSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { apiserverEvents, logFileText } from "../../test/fixtures/audit/events.js";
import type { AuditLog } from "../store/types.js";
import { followFile } from "./follow-file.js";
import { openIngest, type OpenIngest } from "./open-ingest.js";
import { storageIn } from "../../test/fixtures/memory-log.js";
import { tempDir } from "../../test/fixtures/audit/temp-dir.js";

let ingest: OpenIngest | undefined;
afterEach(async () => {
  await ingest?.close();
  ingest = undefined;
});

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400 && !(await cond()); i++) await new Promise((r) => setTimeout(r, 25));
  expect(await cond()).toBe(true);
}

async function storedIDs(log: AuditLog): Promise<string[]> {
  const out: string[] = [];
  for await (const e of log.readEntries(0, log.size())) {
    const ev = JSON.parse(Buffer.from(e.data!).toString()) as { auditID: string; stage: string };
    out.push(`${ev.auditID}/${ev.stage}`);
  }
  return out.sort();
}

describe("follow", () => {
  it("tails across rename rotation, a partial line, truncation and a restart without loss or duplicates", async () => {
    const dir = tempDir("kt-follow-");
    const data = path.join(dir, "data");
    const live = path.join(dir, "audit.log");
    const events = apiserverEvents(100, { seed: 11 });
    const text = (from: number, to: number) => logFileText(events.slice(from, to));
    writeFileSync(live, text(0, 20));
    ingest = await openIngest(storageIn(data));
    let controller = new AbortController();
    let run = followFile(live, ingest.pipeline, {
      stateDir: path.join(data, "follow"),
      pollMs: 20,
      signal: controller.signal,
    });
    await until(() => ingest!.log.size() === 20);

    // A line written in two pieces is read once it is complete.
    const next = text(20, 21);
    appendFileSync(live, next.slice(0, 40));
    appendFileSync(live, next.slice(40) + text(21, 30));
    await until(() => ingest!.log.size() === 30);

    // Rename rotation: the rest of the old file is still read, then the new file from its start.
    appendFileSync(live, text(30, 35));
    renameSync(live, path.join(dir, "audit-2026-11-21T06-00-00.000.log"));
    writeFileSync(live, text(35, 45));
    await until(() => ingest!.log.size() === 45);

    // Stop, rotate while stopped, restart: the rotated file is finished from the saved position.
    controller.abort();
    await run;
    appendFileSync(live, text(45, 50));
    renameSync(live, path.join(dir, "audit-2026-11-21T06-05-00.000.log"));
    writeFileSync(live, text(50, 60));
    controller = new AbortController();
    run = followFile(live, ingest.pipeline, {
      stateDir: path.join(data, "follow"),
      pollMs: 20,
      signal: controller.signal,
    });
    await until(() => ingest!.log.size() === 60);

    // copytruncate: the file shrinks, reading restarts at 0.
    truncateSync(live, 0);
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(live, text(60, 70));
    await until(() => ingest!.log.size() === 70);
    controller.abort();
    const summary = await run;
    expect(summary.duplicates).toBe(0);

    const expected = events
      .slice(0, 70)
      .map((e) => `${e.auditID}/${e.stage}`)
      .sort();
    expect(await storedIDs(ingest.log)).toEqual(expected);
  });

  it("counts the lines of every file rotated while stopped, read and rejected", async () => {
    const dir = tempDir("kt-follow-");
    const data = path.join(dir, "data");
    const live = path.join(dir, "audit.log");
    const events = apiserverEvents(40, { seed: 12 });
    const text = (from: number, to: number) => logFileText(events.slice(from, to));
    writeFileSync(live, text(0, 10));
    ingest = await openIngest(storageIn(data));
    const follow = (signal: AbortSignal) =>
      followFile(live, ingest!.pipeline, { stateDir: path.join(data, "follow"), pollMs: 20, signal });
    let controller = new AbortController();
    let run = follow(controller.signal);
    await until(() => ingest!.log.size() === 10);
    controller.abort();
    await run;

    // Rotated twice while stopped: the remembered file is finished, the next imported whole.
    appendFileSync(live, text(10, 15));
    renameSync(live, path.join(dir, "audit-2026-11-21T07-00-00.000.log"));
    writeFileSync(live, text(15, 20) + "not json\n");
    renameSync(live, path.join(dir, "audit-2026-11-21T07-05-00.000.log"));
    writeFileSync(live, text(20, 25));
    controller = new AbortController();
    run = follow(controller.signal);
    await until(() => ingest!.log.size() === 25);
    controller.abort();
    const summary = await run;
    expect(summary.read).toBe(16); // 5 + 6 + 5 lines
    expect(summary.stored).toBe(15);
    expect(summary.rejectedCount).toBe(1);
  });
});
