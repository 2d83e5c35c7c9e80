// The default storage: one data directory holding the log (the fs driver), its keys (keys/) and
// the state derived from it (index.db, dedupe/, …), as docs/DESIGN.md lays out.
import { statSync } from "node:fs";
import type { LogSource } from "../driver.js";
import { openLog } from "../log-core.js";
import type { OpenLogOptions, Storage } from "../storage.js";
import type { AuditLog } from "../types.js";
import { FsDriver } from "./driver.js";
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
  opts: OpenLogOptions = {},
): Promise<AuditLog & { driver: FsDriver }> {
  const driver = await FsDriver.open(dataDir);
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

/** The storage of one data directory. */
export function fsStorage(dataDir: string): Storage {
  return {
    where: dataDir,
    stateDir: dataDir,
    openLog: (opts) => openFsLog(dataDir, opts),
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
