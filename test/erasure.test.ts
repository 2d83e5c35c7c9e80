// `kubetrail erase --user`: the user's events (and a kubetrail record quoting the name) become
// tombstones, an erasure record is appended, verify passes and counts them by record, other
// entries read as before — and no byte of the erased values is left anywhere in the data
// directory: bundles (compressed or not), index, dedupe store, write-ahead log.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openFsLog } from "../src/store/fs/storage.js";
import type { AuditEvent } from "../src/audit/types.js";
import { apiserverEvents, logFileText } from "./fixtures/audit/events.js";
import { runCli } from "./fixtures/cli.js";
import { fileContents, filesUnder, leakForms } from "./fixtures/leaks.js";

const ERIN = "erin.privacy@example.org";
const ERIN_IP = "203.0.113.77";
const ERIN_AGENT = "erin-laptop/7.1 (kubectl, private build)";
/** Positions of erin's events among the 700 imported (all in full bundles). */
const ERIN_AT = [10, 101, 300, 301, 450];
let root: string;
let dir: string;
/** The log before the markers: the alert (entry 700) still in the open bundle. */
let unfilled: string;
let key: string;

/** Every erased value's leak forms found in the data directory, as "value (form) in file". */
function leaks(values: string[]): string[] {
  const found: string[] = [];
  for (const file of filesUnder(dir)) {
    const bytes = fileContents(file);
    for (const v of values)
      for (const [form, needle] of leakForms(v))
        if (bytes.includes(needle)) found.push(`${v} (${form}) in ${path.relative(dir, file)}`);
  }
  return found;
}

let erinIds: string[] = [];

/** `kubetrail erase --data DIR --user ERIN --reason "GDPR request 17" …more`. */
const eraseErin = (...more: string[]) =>
  runCli(["erase", "--data", dir, "--user", ERIN, "--reason", "GDPR request 17", ...more]);

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), "kt-erase-"));
  dir = path.join(root, "data");
  unfilled = path.join(root, "unfilled");
  const events = apiserverEvents(700, { withTypeMeta: true, seed: 24 }) as AuditEvent[];
  for (const [k, i] of ERIN_AT.entries()) {
    const e = events[i]!;
    e.auditID = `e7a1d0c5-0000-4000-8000-00000000e${String(k).padStart(3, "0")}`;
    e.user = { username: ERIN, groups: ["system:authenticated"] };
    e.sourceIPs = [ERIN_IP];
    e.userAgent = ERIN_AGENT;
  }
  erinIds = ERIN_AT.map((i) => events[i]!.auditID);
  const file = path.join(root, "audit.log");
  writeFileSync(file, logFileText(events));
  const live = path.join(root, "live");
  const imported = await runCli(["import", "--data", live, file]);
  expect(imported.code, imported.stderr).toBe(0);
  expect((await runCli(["reindex", "--data", live])).code).toBe(0);
  // A kubetrail record quoting the name, as an alert does, then markers that fill its bundle.
  // Each state is taken while the log is open, as a process killed then leaves it: the record
  // is in the write-ahead log too (a clean close leaves none there).
  const log = await openFsLog(live);
  await log.append([
    Buffer.from(
      JSON.stringify({
        apiVersion: "kubetrail.dev/v1",
        kind: "Alert",
        time: "2026-11-21T06:00:00Z",
        user: ERIN,
      }),
    ),
  ]);
  await log.waitIntegrated(701);
  key = log.verifierKey;
  cpSync(live, unfilled, { recursive: true });
  await log.append(
    Array.from({ length: 100 }, (_, i) =>
      Buffer.from(
        JSON.stringify({
          apiVersion: "kubetrail.dev/v1",
          kind: "Marker",
          time: "2026-11-21T06:00:00Z",
          n: i,
        }),
      ),
    ),
  );
  await log.waitIntegrated(801);
  cpSync(live, dir, { recursive: true });
  await log.close();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("kubetrail erase", () => {
  it("finds the values everywhere before (so their absence after means something)", () => {
    const before = leaks([ERIN, ERIN_IP, ...erinIds]);
    for (const part of [/^tile\/entries\//, /^wal\//, /^index\.db/])
      expect(
        before.some((l) => part.test(l.split(" in ")[1]!)),
        `${part} holds them`,
      ).toBe(true);
  });

  it("refuses what it cannot erase yet, changing nothing", async () => {
    // The alert is entry 700, in the open bundle.
    const r = await runCli(["erase", "--data", unfilled, "--user", ERIN, "--reason", "GDPR request 17"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/1 matched entries \(from 700\) are in the open bundle.*--skip-open-bundle/);
    const dry = await runCli([
      "erase",
      "--data",
      unfilled,
      "--user",
      ERIN,
      "--reason",
      "x",
      "--dry-run",
      "-o",
      "json",
    ]);
    expect(JSON.parse(dry.stdout)).toMatchObject({ entries: [...ERIN_AT, 700], inOpenBundle: [700] });
  });

  it("with --skip-open-bundle erases what full bundles hold and names what it left", async () => {
    const copy = path.join(root, "skip-open");
    cpSync(unfilled, copy, { recursive: true });
    const erase = (...more: string[]) =>
      runCli([
        "erase",
        "--data",
        copy,
        "--user",
        ERIN,
        "--reason",
        "GDPR request 17",
        "--skip-open-bundle",
        ...more,
      ]);
    expect(JSON.parse((await erase("--dry-run", "-o", "json")).stdout)).toMatchObject({
      entries: ERIN_AT,
      inOpenBundle: [700],
    });
    const r = await erase();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^erased 5 entries in \d+ bundles under erasure record #701; .*; 1 matches in the open bundle \(from 700\) left: run again once it has filled\n$/,
    );
    const v = await runCli(["verify", "--data", copy, "--key", key, "-o", "json"]);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, erased: 5 });
    const reader = await openFsLog(copy);
    try {
      const states = new Map<number, string>();
      for await (const e of reader.readEntries(0, 701)) states.set(e.index, e.gone?.state ?? "present");
      expect(ERIN_AT.map((i) => states.get(i))).toEqual(Array(5).fill("erased"));
      expect(states.get(700)).toBe("present");
    } finally {
      await reader.close();
    }
  });

  it("erases, records, verifies, and leaves no byte of the values in the data directory", async () => {
    const dry = await eraseErin("--dry-run", "-o", "json");
    expect(JSON.parse(dry.stdout)).toMatchObject({ entries: [...ERIN_AT, 700], records: [] });

    const r = await eraseErin("--by", "dpo@example", "-o", "json");
    expect(r.stderr).toBe("");
    const result = JSON.parse(r.stdout) as { entries: number[]; records: number[] };
    expect(result.entries).toEqual([...ERIN_AT, 700]);
    expect(result.records).toEqual([801]);

    const v = await runCli(["verify", "--data", dir, "--key", key, "-o", "json"]);
    expect(JSON.parse(v.stdout)).toMatchObject({
      ok: true,
      entries: 802,
      erased: 6,
      erasedBy: [{ record: 801, count: 6, by: "dpo@example", reason: "GDPR request 17" }],
    });
    const text = await runCli(["verify", "--data", dir, "--key", key]);
    expect(text.stdout).toMatch(/6 entries erased by record #801 \(by dpo@example, .*: GDPR request 17\)/);

    // Another import rebuilds the dedupe store from the log as it now is.
    const more = path.join(root, "more.log");
    writeFileSync(more, logFileText(apiserverEvents(20, { withTypeMeta: true, seed: 99 }) as AuditEvent[]));
    expect((await runCli(["import", "--data", dir, more])).code).toBe(0);
    expect(leaks([ERIN, ERIN_IP, ERIN_AGENT, ...erinIds])).toEqual([]);

    // Readers see tombstones; every other entry is as it was.
    const reader = await openFsLog(dir);
    try {
      const seen: string[] = [];
      for await (const e of reader.readEntries(0, 702)) {
        if (ERIN_AT.includes(e.index) || e.index === 700) seen.push(e.gone?.state ?? "present");
        else if (e.index < 700) expect(e.data, `entry ${e.index}`).toBeDefined();
      }
      expect(seen).toEqual(Array(6).fill("erased"));
    } finally {
      await reader.close();
    }
    const q = await runCli(["query", "--data", dir, "--user", ERIN, "-o", "json"]);
    expect(q.code).toBe(0);
    expect(JSON.parse(q.stdout).items).toEqual([]);
  });

  it("fails verification for a tombstone no erasure record lists", async () => {
    const copy = path.join(root, "tampered");
    const log = await openFsLog(copy, { origin: "example.com/erase-tamper" });
    await log.append(
      Array.from({ length: 300 }, (_, i) => Buffer.from(JSON.stringify({ kind: "Event", n: i }))),
    );
    await log.waitIntegrated(300);
    const k = log.verifierKey;
    await log.close();
    // Tombstoned the way erase does, but without its record: what an operator hiding an entry would do.
    const again = await openFsLog(copy);
    await again.driver.eraseEntries([7]);
    await again.close();
    const v = await runCli(["verify", "--data", copy, "--key", k]);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(
      /erased-without-record: 1 entries are erased but no erasure or retention record in the log lists them \(first: 7\)/,
    );
  });
});
