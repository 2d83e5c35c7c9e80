// The default storage: one data directory holding the log (the fs driver), its keys (keys/) and
// the state derived from it (index.db, dedupe/, …), as docs/DESIGN.md lays out.
import { statSync } from "node:fs";
import type { LogSource } from "../driver.js";
import { openLog } from "../log-core.js";
import type { OpenLogOptions, Storage } from "../storage.js";
import type { AuditLog } from "../types.js";
import { DEFAULT_ENTRIES_PER_FRAME, DEFAULT_LEVEL } from "../bundle-codec.js";
import type { CompactionStats } from "./compactor.js";
import { FsDriver, type FsDriverOptions } from "./driver.js";
import { FsLogFiles } from "./files.js";
import { FsLayout } from "./layout.js";
import {
  loadOrCreateRedactionKey,
  loadOrCreateSigningKey,
  readRedactionKey,
  readVerifierKey,
} from "./keys.js";

/** Opens (creating if needed) the log in `dataDir` for writing; one writer per directory. */
export async function openFsLog(
  dataDir: string,
  opts: OpenLogOptions & FsDriverOptions = {},
): Promise<AuditLog & { driver: FsDriver }> {
  const driver = await FsDriver.open(dataDir, opts);
  let keys;
  try {
    keys = await loadOrCreateSigningKey(dataDir, opts.origin);
  } catch (err) {
    await driver.close();
    throw err;
  }
  const log = await openLog(driver, keys, opts);
  return Object.assign(log, { driver });
}

/**
 * Compresses the full bundles a stopped log holds plain (with `reframe`, also rewrites those
 * compressed in one frame). A one-shot writer (import, restore) ends with it: a log that stops
 * seconds after sealing its last bundles leaves most of them plain.
 */
export async function compactStoppedLog(
  dir: string,
  opts: {
    level?: number;
    entriesPerFrame?: number;
    reframe?: boolean;
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<CompactionStats> {
  const log = await openFsLog(dir, {
    compressLevel: opts.level ?? DEFAULT_LEVEL,
    entriesPerFrame: opts.entriesPerFrame ?? DEFAULT_ENTRIES_PER_FRAME,
  });
  try {
    return await log.driver.compactAll({
      ...(opts.reframe ? { reframe: true } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
  } finally {
    await log.close();
  }
}

/** The storage of one data directory. */
export function fsStorage(dataDir: string, driverOpts: FsDriverOptions = {}): Storage {
  return {
    where: dataDir,
    stateDir: dataDir,
    openLog: (opts) => openFsLog(dataDir, { ...driverOpts, ...opts }),
    source: (): LogSource => new FsLogFiles(dataDir),
    verifierKey: () => readVerifierKey(dataDir),
    redactionKey: () => readRedactionKey(dataDir),
    loadOrCreateRedactionKey: () => loadOrCreateRedactionKey(dataDir),
    checkpointWrittenAt: () => {
      try {
        return statSync(new FsLayout(dataDir).checkpoint).mtimeMs;
      } catch {
        return undefined;
      }
    },
  };
}
