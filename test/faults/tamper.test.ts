// The verify tamper matrix against a log written by a real `kubetrail serve` over HTTPS:
// each case alters a copy of the data directory the way an operator covering tracks might,
// and `kubetrail verify` must fail on it (and pass on the untouched copy).
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FsLayout } from "../../src/store/fs/layout.js";
import { editStoredBundle } from "../fixtures/stored-bundle.js";
import { makeBatches } from "./event-batches.js";
import { postEvents, removeDir, requireBuiltCli, runVerify, startServe, tempDir } from "./serve-process.js";

const ENTRIES = 700; // two full bundles of 256 and a partial one

interface TamperCase {
  name: string;
  mutate(dir: string): void;
  /** Index of the entry the verifier should name, when the change is to one entry. */
  index?: number;
}

/** Edits the lines of full bundle `n` as stored (plain, or compressed at rest). */
function editBundleLines(dir: string, n: number, edit: (lines: string[]) => string[]): void {
  editStoredBundle(new FsLayout(dir), n, (b) =>
    Buffer.from(edit(b.toString("utf8").slice(0, -1).split("\n")).join("\n") + "\n"),
  );
}

function editLines(file: string, edit: (lines: string[]) => string[]): void {
  const text = readFileSync(file, "utf8");
  const trailing = text.endsWith("\n");
  const lines = (trailing ? text.slice(0, -1) : text).split("\n");
  writeFileSync(file, edit(lines).join("\n") + (trailing ? "\n" : ""));
}

/** Every file holding the entries of the last (partial) bundle: the tail the checkpoint covers. */
function tailBundleFiles(dir: string): string[] {
  const entries = path.join(dir, "tile", "entries");
  const out: string[] = [];
  for (const name of readdirSync(entries)) {
    if (!name.startsWith("002")) continue;
    const p = path.join(entries, name);
    if (name.endsWith(".p")) for (const w of readdirSync(p)) out.push(path.join(p, w));
    else out.push(p);
  }
  return out;
}

const CASES: TamperCase[] = [
  {
    name: "one byte of an entry changed",
    index: 10,
    mutate: (d) =>
      editBundleLines(d, 0, (ls) => ls.map((l, i) => (i === 10 ? l.replace('"verb":"', '"verb":"x') : l))),
  },
  {
    name: "an entry deleted",
    index: 20,
    mutate: (d) => editBundleLines(d, 0, (ls) => ls.filter((_, i) => i !== 20)),
  },
  {
    name: "two entries swapped",
    mutate: (d) =>
      editBundleLines(d, 0, (ls) => {
        const out = [...ls];
        [out[3], out[4]] = [out[4] as string, out[3] as string];
        return out;
      }),
  },
  {
    name: "an entry inserted (duplicated)",
    mutate: (d) => editBundleLines(d, 1, (ls) => [ls[0] as string, ...ls]),
  },
  {
    name: "the newest entry cut from the tail",
    mutate: (d) => tailBundleFiles(d).forEach((f) => editLines(f, (ls) => ls.slice(0, -1))),
  },
  {
    name: "a whole bundle removed",
    mutate: (d) => {
      const layout = new FsLayout(d);
      rmSync(layout.bundle(1), { force: true });
      rmSync(layout.compressedBundle(1), { force: true });
    },
  },
  {
    name: "a hash tile altered",
    mutate: (d) => {
      const f = path.join(d, "tile", "0", "000");
      const b = readFileSync(f);
      b[100] = (b[100] as number) ^ 0x01;
      writeFileSync(f, b);
    },
  },
  {
    name: "checkpoint size lowered (signature kept)",
    mutate: (d) =>
      editLines(path.join(d, "checkpoint"), (ls) => ls.map((l, i) => (i === 1 ? String(Number(l) - 1) : l))),
  },
  {
    name: "checkpoint root replaced (signature kept)",
    mutate: (d) =>
      editLines(path.join(d, "checkpoint"), (ls) =>
        ls.map((l, i) => (i === 2 ? Buffer.alloc(32, 7).toString("base64") : l)),
      ),
  },
  {
    name: "checkpoint signature removed",
    mutate: (d) => editLines(path.join(d, "checkpoint"), (ls) => ls.filter((l) => !l.startsWith("—"))),
  },
];

describe("tampering with a log written by a real server", () => {
  let dir: string;
  let original: string;
  let verifierKey: string;

  beforeAll(async () => {
    requireBuiltCli();
    dir = tempDir("tamper");
    original = path.join(dir, "data");
    // No detector: its alert entries would land in the log at times of their own, and the cases
    // below count on exactly the ENTRIES events posted.
    const serve = await startServe(original, ["--no-detect"]);
    for (const b of makeBatches(31337, ENTRIES, 100))
      expect((await postEvents(serve, b.body)).status).toBe(200);
    expect(await serve.kill("SIGTERM")).toBe(0);
    verifierKey = readFileSync(path.join(original, "keys", "verifier.key"), "utf8").trim();
    const layout = new FsLayout(original);
    expect(existsSync(layout.bundle(1)) || existsSync(layout.compressedBundle(1))).toBe(true);
  }, 120_000);
  afterAll(() => removeDir(dir));

  const copy = (name: string): string => {
    const to = path.join(dir, name.replace(/[^a-z0-9]+/gi, "-"));
    cpSync(original, to, { recursive: true });
    rmSync(path.join(to, "LOCK"), { force: true });
    return to;
  };

  it("verifies the untouched copy with the pinned key", async () => {
    const r = await runVerify(copy("untouched"), ["--key", verifierKey]);
    expect(r.report.problems ?? [], r.stderr).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.report.entries).toBe(ENTRIES);
  });

  it.each(CASES)("fails on: $name", async (c) => {
    const d = copy(c.name);
    c.mutate(d);
    const r = await runVerify(d, ["--key", verifierKey]);
    expect(r.code, JSON.stringify(r.report)).not.toBe(0);
    expect(r.report.ok).toBe(false);
    expect(r.report.problems?.length ?? 0).toBeGreaterThan(0);
    if (c.index !== undefined) {
      const named = (r.report.problems ?? []) as { index?: number }[];
      expect(
        named.map((p) => p.index),
        JSON.stringify(r.report.problems),
      ).toContain(c.index);
    }
  });
});
