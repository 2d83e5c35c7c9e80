// `kubetrail erase --filter`: the requests a query filter matches are erased whole (every
// stage, found by auditID, though the filter matched one stage), with the kubetrail records that
// quote them; the record names the filter by keyed hash; requests the filter does not match
// stay, even when they share a value with the erased ones; bad filters are refused up front.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openFsLog } from "../src/store/fs/storage.js";
import type { AuditEvent } from "../src/audit/types.js";
import { apiserverEvents, logFileText } from "./fixtures/audit/events.js";
import { runCli } from "./fixtures/cli.js";
import { fileContents, filesUnder, leakForms } from "./fixtures/leaks.js";

const IP = "198.51.100.23";
const FRANK = "frank.filter@example.org";
let root: string;
let dir: string;
let key: string;
/** Requests from IP refused with 403 (the filter's matches), and one from IP that succeeded. */
let refused: string[] = [];
let succeeded = "";
/** Log positions of each request's events. */
const at = new Map<string, number[]>();
/** Log positions of the alert quoting a refused request, and of one quoting nothing erased. */
let alertOfRefused = 0;
let otherAlert = 0;

const alert = (auditIDs: string[]) =>
  Buffer.from(
    JSON.stringify({ apiVersion: "kubetrail.dev/v1", kind: "Alert", time: "2026-11-21T06:00:00Z", auditIDs }),
  );

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), "kt-erase-filter-"));
  dir = path.join(root, "data");
  const events = apiserverEvents(700, { withTypeMeta: true, seed: 31 }) as AuditEvent[];
  events.forEach((e, i) => at.set(e.auditID, [...(at.get(e.auditID) ?? []), i]));
  // Three requests of two stages each, spread over the first bundles.
  const chosen = [20, 130, 333].map((from) => {
    let i = from;
    while (at.get(events[i]!.auditID)!.length !== 2) i++;
    return events[i]!.auditID;
  });
  [refused, succeeded] = [chosen.slice(0, 2), chosen[2]!];
  for (const e of events) {
    if (!chosen.includes(e.auditID)) continue;
    e.sourceIPs = [IP];
    if (refused.includes(e.auditID)) {
      e.user = { username: FRANK, groups: ["system:authenticated"] };
      if (e.stage === "ResponseComplete") e.responseStatus = { metadata: {}, code: 403 };
    }
  }
  const file = path.join(root, "audit.log");
  writeFileSync(file, logFileText(events));
  expect((await runCli(["import", "--data", dir, file])).code).toBe(0);
  const log = await openFsLog(dir);
  try {
    ({ firstIndex: alertOfRefused } = await log.append([alert([refused[1]!])]));
    ({ firstIndex: otherAlert } = await log.append([alert([events[5]!.auditID])]));
    // Markers that fill the bundle, so every match is in a full one.
    await log.append(
      Array.from({ length: 100 }, (_, n) =>
        Buffer.from(JSON.stringify({ apiVersion: "kubetrail.dev/v1", kind: "Marker", n })),
      ),
    );
    await log.waitIntegrated(802);
    key = log.verifierKey;
  } finally {
    await log.close();
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const FILTER = ["--filter", `source-ip=${IP}`, "--filter", "code=403"];
const erase = (...more: string[]) =>
  runCli([
    "erase",
    "--data",
    dir,
    ...FILTER,
    "--reason",
    "DSAR 4",
    "--by",
    "dpo@example",
    "-o",
    "json",
    ...more,
  ]);

describe("kubetrail erase --filter", () => {
  it("refuses a filter it cannot take, naming what is wrong, before touching the log", async () => {
    const cases: [string[], RegExp][] = [
      [["--filter", "since=7d"], /must say whose or which data/],
      [
        ["--filter", "namespace=team-1", "--filter", "stage=ResponseComplete"],
        /filter stage: not one an erasure takes/,
      ],
      [["--filter", "namespace"], /expected NAME=VALUE/],
      [["--filter", "namespace=team-1", "--filter", "code=9xx"], /--filter: filter code: /],
      [
        ["--filter", "namespace=team-1", "--user", FRANK],
        /exactly one of --user NAME, --audit-id ID or --filter/,
      ],
    ];
    for (const [flags, why] of cases) {
      const r = await runCli(["erase", "--data", dir, ...flags, "--reason", "x"]);
      expect(r.code, flags.join(" ")).toBe(2);
      expect(r.stderr, flags.join(" ")).toMatch(why);
    }
  });

  it("takes every stage of the matched requests and the records quoting them, nothing else", async () => {
    const expected = [...refused.flatMap((id) => at.get(id)!), alertOfRefused].sort((a, b) => a - b);
    const dry = await erase("--dry-run");
    expect(dry.stderr).toBe("");
    expect(JSON.parse(dry.stdout)).toMatchObject({ entries: expected, records: [] });

    const r = await erase();
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toMatchObject({ entries: expected, records: [802] });

    const v = await runCli(["verify", "--data", dir, "--key", key, "-o", "json"]);
    expect(JSON.parse(v.stdout)).toMatchObject({
      ok: true,
      erased: expected.length,
      erasedBy: [{ record: 802, count: expected.length, by: "dpo@example", reason: "DSAR 4" }],
    });
    const reader = await openFsLog(dir);
    try {
      const record = JSON.parse(
        Buffer.from((await first(reader.readEntries(802, 803))).data!).toString("utf8"),
      ) as { selector: { field: string; hmac: string } };
      expect(record.selector.field).toBe("filter");
      expect(record.selector.hmac).toMatch(/^[0-9a-f]{64}$/);
      const kept = [...at.get(succeeded)!, otherAlert];
      for await (const e of reader.readEntries(0, 802)) {
        const state = e.gone?.state ?? "present";
        expect(state, `entry ${e.index}`).toBe(expected.includes(e.index) ? "erased" : "present");
        if (kept.includes(e.index)) expect(e.data).toBeDefined();
      }
    } finally {
      await reader.close();
    }
    // The same IP's successful request is still found; nothing of the erased ones is.
    const q = await runCli([
      "query",
      "--data",
      dir,
      "--source-ip",
      IP,
      "--stage",
      "RequestReceived,ResponseComplete",
      "-o",
      "json",
    ]);
    expect((JSON.parse(q.stdout) as { items: unknown[] }).items).toHaveLength(2);
    const found: string[] = [];
    for (const file of filesUnder(dir))
      for (const v of [FRANK, ...refused])
        for (const [form, needle] of leakForms(v))
          if (fileContents(file).includes(needle))
            found.push(`${v} (${form}) in ${path.relative(dir, file)}`);
    expect(found).toEqual([]);
  });
});

async function first<T>(it: AsyncIterable<T>): Promise<T> {
  for await (const v of it) return v;
  throw new Error("empty");
}
