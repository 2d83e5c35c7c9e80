import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { openFsLog } from "../store/fs/storage.js";
import { parseRetentionPolicy } from "./policy.js";
import { retentionServeExtension } from "./serve-extension.js";
import type { OpenIngest } from "../ingest/open-ingest.js";
import type { ExtensionContext } from "../server/run-serve.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("serve --retention-policy", () => {
  it("logs a failure to drop the index rows and goes on serving (no unhandled rejection)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "kt-retention-ext-"));
    dirs.push(dir);
    // An index file SQLite cannot open: a directory in its place.
    mkdirSync(path.join(dir, "index.db"));
    const log = await openFsLog(dir, { origin: "example.com/retention-ext" });
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split("\n").filter(Boolean));
        done();
      },
    });
    const ext = retentionServeExtension({
      policy: parseRetentionPolicy(
        "apiVersion: kubetrail.dev/v1\nkind: RetentionPolicy\nkeep: 30d\n",
        "p.yaml",
      ),
      intervalMs: 50,
      by: "test",
      logger: pino({ level: "debug" }, sink),
    });
    const stop = await ext.start!({ log } as unknown as OpenIngest, {} as ExtensionContext);
    try {
      const deadline = Date.now() + 20_000;
      const failures = () =>
        lines.filter((l) => l.includes("dropping the pruned entries' index rows failed"));
      // Two intervals' worth: the failure is logged, and the next run still comes.
      while (failures().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(failures().length).toBeGreaterThanOrEqual(2);
      expect(JSON.parse(failures()[0]!)).toMatchObject({ level: 50 });
      // Why nothing went is said at info, where an operator whose disk does not shrink looks.
      const nothing = lines.find((l) => l.includes("retention: nothing to remove"));
      expect(JSON.parse(nothing!)).toMatchObject({
        level: 30,
        stoppedBy: expect.stringMatching(/full bundle/),
      });
    } finally {
      await stop();
      await log.close();
    }
  });
});
