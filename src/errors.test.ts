import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { AuditError } from "./audit/errors.js";
import { loadPolicyFile } from "./audit/policy/load.js";
import { readPosition } from "./detect/position.js";
import { DetectError } from "./detect/types.js";
import { CodedError } from "./errors.js";
import { IngestError, isBadInput } from "./ingest/errors.js";
import { IngestBusyError } from "./ingest/pipeline.js";
import { ConfigError } from "./server/config.js";
import { HttpError, ServerError } from "./server/route.js";
import { LogError, toLogError } from "./store/types.js";

/** Classes declared in src/ (tests aside) that extend `base` directly, by module (top folder). */
function subclassesOf(base: string): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  const pattern = new RegExp(`class (\\w+)(?:<[^>]*>)? extends ${base}\\b`, "g");
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, e.name);
      if (e.isDirectory()) walk(file);
      else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) {
        const module = path.relative(import.meta.dirname, file).split(path.sep)[0]!;
        for (const m of readFileSync(file, "utf8").matchAll(pattern)) (found[module] ??= []).push(m[1]!);
      }
    }
  };
  walk(import.meta.dirname);
  return found;
}

describe("error families", () => {
  it("are one base class per module: nothing else extends Error directly", () => {
    const direct = Object.values(subclassesOf("Error")).flat();
    // The shared shape, kubetrail/tlog's own (the library imports nothing else), and the CLI's
    // message for the terminal.
    expect(direct.sort()).toEqual(["CliError", "CodedError", "TlogError"]);
  });

  it("are one per module: every other error class extends its module's family", () => {
    expect(subclassesOf("CodedError")).toEqual({
      audit: ["AuditError"],
      client: ["ClientError"],
      detect: ["DetectError"],
      guard: ["GuardError"],
      index: ["IndexError"],
      ingest: ["IngestError"],
      keys: ["KeysError"],
      mirror: ["MirrorError"],
      publish: ["HttpClientError"],
      secrets: ["SecretsError"],
      server: ["ServerError"],
      store: ["LogError"],
      verify: ["WitnessPolicyError"],
      witness: ["WitnessError"],
    });
  });

  it("keep the error that led to them as their cause", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "kt-errors-"));
    try {
      const full = toLogError(Object.assign(new Error("no space"), { code: "ENOSPC" }));
      expect(full).toMatchObject({ code: "full", name: "LogError" });
      expect((full.cause as Error).message).toBe("no space");
      // A directory where a file should be: the read fails, and says why underneath.
      const position = await readPosition(dir).catch((e: unknown) => e);
      expect(position).toBeInstanceOf(DetectError);
      expect((position as Error).cause).toMatchObject({ code: "EISDIR" });
      let policy: unknown;
      try {
        loadPolicyFile(path.join(dir, "missing.yaml"));
      } catch (err) {
        policy = err;
      }
      expect(policy).toBeInstanceOf(AuditError);
      expect((policy as Error).cause).toMatchObject({ code: "ENOENT" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("branch on codes: a busy pipeline is an ingest error but not bad input", () => {
    const busy = new IngestBusyError("too much in flight");
    expect(busy).toBeInstanceOf(IngestError);
    expect(busy.code).toBe("busy");
    expect(isBadInput(busy)).toBe(false);
    expect(isBadInput(new IngestError("not_json", "x"))).toBe(true);
    expect(new HttpError(404, "x")).toBeInstanceOf(ServerError);
    expect(new ConfigError("x")).toMatchObject({ code: "config", name: "ConfigError" });
    expect(new LogError("corrupt", "x")).toBeInstanceOf(CodedError);
  });
});
