import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { JsonLineSpool } from "./spool.js";

const spoolDirs = () => readdirSync(tmpdir()).filter((n) => n.startsWith("kubetrail-spool-"));

describe("JsonLineSpool", () => {
  it("gives the records back in order, as often as asked, from a file no one else can open", async () => {
    const before = spoolDirs();
    const spool = new JsonLineSpool<{ n: number; text: string }>();
    try {
      // Unlinked at once: nothing left in the temporary directory while it is in use.
      expect(spoolDirs()).toEqual(before);
      // More than one flush's worth, with text that needs escaping.
      const records = Array.from({ length: 5000 }, (_, n) => ({
        n,
        text: `line ${n}\n"quoted" ${"é".repeat(n % 300)}`,
      }));
      for (const r of records) spool.add(r);
      expect(spool.count).toBe(5000);
      for (let pass = 0; pass < 2; pass++) {
        const back: unknown[] = [];
        for await (const r of spool.read()) back.push(r);
        expect(back).toEqual(records);
      }
      spool.add({ n: 5000, text: "after reading" });
      let last: unknown;
      for await (const r of spool.read()) last = r;
      expect(last).toEqual({ n: 5000, text: "after reading" });
    } finally {
      spool.close();
    }
  });

  it("reads back nothing when nothing was added", async () => {
    const spool = new JsonLineSpool<number>();
    const back: number[] = [];
    for await (const r of spool.read()) back.push(r);
    spool.close();
    expect(back).toEqual([]);
  });
});
