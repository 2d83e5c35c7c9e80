import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MirrorHolds } from "./mirror-holds.js";

const HOUR = 3_600_000;
const dir = mkdtempSync(path.join(os.tmpdir(), "kt-mirror-holds-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(file: string, mirrors: string[], nowMs: number, warnings: string[] = []) {
  return MirrorHolds.load(file, mirrors, 24 * HOUR, nowMs, (message, fields) =>
    warnings.push(`${message} ${JSON.stringify(fields)}`),
  );
}

describe("MirrorHolds", () => {
  it("holds retention at the smallest tree a mirror cosigned, and keeps it across a restart", async () => {
    const file = path.join(dir, "restart.json");
    const holds = await load(file, ["m1", "m2"], 0);
    // New mirrors hold everything until they answer.
    expect(holds.hold(0, 1)).toMatchObject({ before: 0 });
    holds.cosigned("m1", 900, 10);
    holds.cosigned("m2", 300, 10);
    holds.cosigned("m2", 200, 20); // an older checkpoint answered late: no step back
    holds.cosigned("w1", 5000, 20); // not a mirror
    expect(holds.hold(0, 30)).toEqual({
      before: 300,
      why: expect.stringMatching(/^mirror m2 has cosigned only 300 entries/) as string,
    });
    await holds.close();
    const again = await load(file, ["m1", "m2"], 40);
    expect(again.hold(0, 50)?.before).toBe(300);
    expect(again.sizeOf("m1")).toBe(900);
    // A mirror taken out of the configuration no longer holds anything.
    const fewer = await load(file, ["m1"], 60);
    expect(fewer.hold(0, 70)?.before).toBe(900);
  });

  it("lets go, once and said, of a mirror silent longer than the hold, and of one already past saving", async () => {
    const warnings: string[] = [];
    const holds = await load(path.join(dir, "letgo.json"), ["live", "dead"], 0, warnings);
    holds.cosigned("dead", 256, 1 * HOUR);
    holds.cosigned("live", 512, 1 * HOUR);
    expect(holds.hold(0, 20 * HOUR)?.before).toBe(256);
    // 26 hours after its last cosignature, "dead" is let go; "live" (which keeps cosigning) is not.
    holds.cosigned("live", 768, 26 * HOUR);
    expect(holds.hold(0, 27 * HOUR)?.before).toBe(768);
    expect(holds.hold(0, 28 * HOUR)?.before).toBe(768);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /no longer waits for a mirror.*"mirror":"dead","cosignedSize":256,"silentHours":26/,
    );
    // It answers again: it holds again.
    holds.cosigned("dead", 300, 29 * HOUR);
    expect(holds.hold(0, 29 * HOUR)?.before).toBe(300);
    // The log already pruned past what it holds: nothing it lacks can reach it any more.
    expect(holds.hold(512, 29 * HOUR)?.before).toBe(768);
    await holds.close();
  });

  it("counts every mirror as new when its file is damaged, with a warning", async () => {
    const file = path.join(dir, "damaged.json");
    writeFileSync(file, '{"holdMs": 1000, "mirrors": {"m1": {"size": "lots"}}}');
    const warnings: string[] = [];
    const holds = await load(file, ["m1"], 5, warnings);
    expect(warnings[0]).toMatch(/could not be read.*m1: expected \{size, sinceMs\}/);
    expect(holds.hold(0, 6)?.before).toBe(0);
    // Replaced at once with a valid one.
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({
      holdMs: 24 * HOUR,
      mirrors: { m1: { size: 0, sinceMs: 5 } },
    });
    // A run on the stopped log refuses to guess from a damaged file.
    writeFileSync(file, "{not json");
    await expect(MirrorHolds.saved(file, () => undefined)).rejects.toThrow(/JSON/);
  });

  it("gives a run on the stopped log the holds serve saved, with serve's hold period", async () => {
    const file = path.join(dir, "saved.json");
    expect(await MirrorHolds.saved(file, () => undefined)).toBeNull();
    const serve = await load(file, ["m1"], 0);
    serve.cosigned("m1", 512, 1 * HOUR);
    await serve.close();
    const run = (await MirrorHolds.saved(file, () => undefined))!;
    expect(run.hold(0, 2 * HOUR)?.before).toBe(512);
    // serve's 24 hours hold: let go after them, as serve would.
    expect(run.hold(0, 26 * HOUR)).toBeNull();
  });
});
