// Who performs a rotation step: the process that has the log open. The CLI opens the log itself
// when it can; when `serve` holds it, the CLI leaves the request in DATA/keys/rotation-request
// and serve (rotationWatcher) does the step and answers in DATA/keys/rotation-result.json.
import { rm } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import type { ServeExtension } from "../server/run-serve.js";
import { readFileIfExists, writeFileAtomic } from "../store/durable-file.js";
import { fsStorage } from "../store/fs/storage.js";
import { LogError, type AuditLog } from "../store/types.js";
import { isRecord } from "../json/record.js";
import { Keyring } from "./keyring.js";
import { rotationStep, RotationError, type RotationAction } from "./rotation.js";

const REQUEST = "rotation-request";
const RESULT = "rotation-result.json";

function keysDir(dataDir: string): string {
  return path.join(dataDir, "keys");
}

/** Does `action` on the log in dataDir, directly or through the serve that holds it. */
export async function requestRotation(
  dataDir: string,
  action: RotationAction,
  timeoutMs: number,
): Promise<string> {
  let log: AuditLog;
  try {
    log = await fsStorage(dataDir).openLog();
  } catch (err) {
    if (err instanceof LogError && err.code === "locked") return askServe(dataDir, action, timeoutMs);
    throw err;
  }
  try {
    const ring = Keyring.opened(keysDir(dataDir));
    if (!ring) throw new RotationError("io", `${dataDir}: the log's keys are not a keyring`);
    return await rotationStep(log, ring, action);
  } finally {
    await log.close();
  }
}

async function askServe(dataDir: string, action: RotationAction, timeoutMs: number): Promise<string> {
  const dir = keysDir(dataDir);
  const asked = new Date().toISOString();
  await writeFileAtomic(path.join(dir, REQUEST), JSON.stringify({ action, asked }) + "\n", 0o600);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const text = (await readFileIfExists(path.join(dir, RESULT)))?.toString("utf8");
    if (text === undefined) continue;
    const result: unknown = JSON.parse(text);
    if (!isRecord(result) || result["asked"] !== asked) continue;
    if (result["ok"] === true) return String(result["message"]);
    throw new RotationError(result["code"] === "state" ? "state" : "io", String(result["message"]));
  }
  throw new RotationError(
    "io",
    `the log is open (serve?) but no answer to the rotation request came within ${timeoutMs / 1000} s: is serve running on ${dataDir}?`,
  );
}

/**
 * For serve: checks DATA/keys/ for a rotation request every `intervalMs`, does it on the open
 * log and answers. Returns the stop function.
 */
export function rotationWatcher(
  dataDir: string,
  log: AuditLog,
  onDone: (message: string, ok: boolean) => void,
  intervalMs = 1000,
): () => Promise<void> {
  const dir = keysDir(dataDir);
  let running: Promise<void> = Promise.resolve();
  const check = async (): Promise<void> => {
    const text = (await readFileIfExists(path.join(dir, REQUEST)))?.toString("utf8");
    if (text === undefined) return;
    let request: unknown;
    try {
      request = JSON.parse(text);
    } catch {
      request = null;
    }
    const action = isRecord(request) ? request["action"] : undefined;
    const asked = isRecord(request) ? request["asked"] : undefined;
    let answer: { ok: boolean; message: string; code?: string };
    try {
      if (action !== "begin" && action !== "finish")
        throw new RotationError("state", `unknown rotation request ${JSON.stringify(text.slice(0, 80))}`);
      const ring = Keyring.opened(dir);
      if (!ring) throw new RotationError("io", `${dataDir}: the log's keys are not a keyring`);
      answer = { ok: true, message: await rotationStep(log, ring, action) };
    } catch (err) {
      answer = {
        ok: false,
        message: (err as Error).message,
        code: err instanceof RotationError ? err.code : "io",
      };
    }
    await writeFileAtomic(path.join(dir, RESULT), JSON.stringify({ ...answer, asked }) + "\n");
    await rm(path.join(dir, REQUEST), { force: true });
    onDone(answer.message, answer.ok);
  };
  const timer = setInterval(() => {
    running = running.then(check).catch((err: unknown) => onDone((err as Error).message, false));
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

/** serve's part: rotation requests from `kubetrail keys rotate` done on the open log. */
export function rotationServeExtension(dataDir: string, logger: Logger): ServeExtension {
  return {
    start: async (ingest) =>
      rotationWatcher(dataDir, ingest.log, (message, ok) =>
        ok
          ? logger.info({ rotation: message }, "key rotation step done")
          : logger.error({ rotation: message }, "key rotation step failed"),
      ),
  };
}
