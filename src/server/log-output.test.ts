import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { TS_SOURCE_EXEC_ARGV } from "../worker/start.js";
import { createLogger, formatText, LineOutput, resolveLogFormat } from "./log-output.js";

describe("serve's log output", () => {
  it("drops and counts lines a full device refuses, without throwing, and goes on", () => {
    // /dev/full answers every write with ENOSPC: a full disk without filling one.
    const fd = openSync("/dev/full", "w");
    try {
      const output = new LineOutput(fd);
      const logger = createLogger({ level: "info", format: "json", output });
      for (let i = 0; i < 5; i++) logger.info({ i }, "request");
      expect(output.dropped).toBe(5);
      expect(output.lastError).toBe("ENOSPC");
      const seen: (Error | null | undefined)[] = [];
      output.write('{"alert":1}\n', (err) => seen.push(err));
      expect((seen[0] as NodeJS.ErrnoException).code).toBe("ENOSPC");
      expect(output.dropped).toBe(6);
    } finally {
      closeSync(fd);
    }
  });

  it("writes JSON lines, or readable text lines", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-log-"));
    try {
      for (const format of ["json", "text"] as const) {
        const file = path.join(dir, format);
        const fd = openSync(file, "w");
        const logger = createLogger({ level: "info", format, output: new LineOutput(fd) });
        logger.info({ address: "127.0.0.1:8443", note: "two words" }, "listening");
        logger.warn({ repair: { cut: 3 } }, "repaired on open");
        closeSync(fd);
        const lines = readFileSync(file, "utf8").trimEnd().split("\n");
        expect(lines).toHaveLength(2);
        if (format === "json") {
          const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
          expect(rec).toMatchObject({
            level: 30,
            msg: "listening",
            address: "127.0.0.1:8443",
            service: "kubetrail",
          });
        } else {
          expect(lines[0]).toMatch(
            /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}listening address=127\.0\.0\.1:8443 note="two words"$/,
          );
          expect(lines[1]).toMatch(/ WARN {2}repaired on open repair=\{"cut":3\}$/);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("formats what is not a record as it is, and resolves auto by the terminal", () => {
    expect(formatText("not json")).toBe("not json\n");
    expect(resolveLogFormat("auto", true)).toBe("text");
    expect(resolveLogFormat("auto", false)).toBe("json");
    expect(resolveLogFormat("json", true)).toBe("json");
    expect(() => resolveLogFormat("yaml", true)).toThrow(
      /--log-format: "yaml" is not one of auto, json, text/,
    );
  });

  describe("with lines collected (flushMs)", () => {
    it("writes them together after the interval, in order, and the alert callback after", async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-log-"));
      const file = path.join(dir, "out");
      const fd = openSync(file, "w");
      try {
        const output = new LineOutput(fd, { flushMs: 30 });
        const logger = createLogger({ level: "info", format: "json", output });
        for (let i = 0; i < 50; i++) logger.info({ i }, "request");
        const seen: (Error | null | undefined)[] = [];
        output.write('{"alert":1}\n', (err) => seen.push(err));
        expect(readFileSync(file, "utf8")).toBe("");
        expect(seen).toEqual([]);
        await new Promise((r) => setTimeout(r, 100));
        const lines = readFileSync(file, "utf8").trimEnd().split("\n");
        expect(lines.map((l) => (JSON.parse(l) as { i?: number }).i)).toEqual([
          ...Array.from({ length: 50 }, (_, i) => i),
          undefined,
        ]);
        expect(seen).toEqual([null]);
        output.close();
      } finally {
        closeSync(fd);
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("counts every line of a refused write as dropped and tells the alert's callback", () => {
      const fd = openSync("/dev/full", "w");
      try {
        const output = new LineOutput(fd, { flushMs: 60_000 });
        for (let i = 0; i < 4; i++) output.writeLine(`{"i":${i}}\n`);
        const seen: (Error | null | undefined)[] = [];
        output.write('{"alert":1}\n', (err) => seen.push(err));
        expect(output.dropped).toBe(0);
        output.close();
        expect(output.dropped).toBe(5);
        expect(output.lastError).toBe("ENOSPC");
        expect((seen[0] as NodeJS.ErrnoException).code).toBe("ENOSPC");
      } finally {
        closeSync(fd);
      }
    });

    it("writes the lines still waiting when the process ends or exits", () => {
      const child = fileURLToPath(new URL("../../test/fixtures/line-output-child.ts", import.meta.url));
      for (const how of ["ends", "exit"]) {
        const r = spawnSync(process.execPath, [...TS_SOURCE_EXEC_ARGV, child, how], {
          encoding: "utf8",
        });
        expect(r.stdout, how).toBe('{"line":0}\n{"line":1}\n{"line":2}\n');
        expect(r.status).toBe(how === "exit" ? 3 : 0);
      }
    });
  });
});
