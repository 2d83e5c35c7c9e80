// Storage over a MemoryStore: the log in memory, derived state in a real directory (the index
// and dedupe store are files whatever holds the log).
import { randomBytes } from "node:crypto";
import type { LogSource } from "../driver.js";
import { openLog } from "../log-core.js";
import type { OpenLogOptions, Storage } from "../storage.js";
import type { AuditLog } from "../types.js";
import { MemoryDriver, MemorySource, MemoryStore } from "./driver.js";

/** Opens the log held by `store` for writing (one writer at a time). */
export async function openMemoryLog(
  store: MemoryStore,
  opts: OpenLogOptions = {},
): Promise<AuditLog & { driver: MemoryDriver }> {
  const keys = store.keys(opts.origin);
  const driver = new MemoryDriver(store);
  const log = await openLog(driver, keys, opts);
  return Object.assign(log, { driver });
}

/** Storage whose log is `store` and whose derived state goes to `stateDir`. */
export function memoryStorage(stateDir: string, store = new MemoryStore()): Storage & { store: MemoryStore } {
  let redaction: Buffer | null = null;
  return {
    where: "memory",
    stateDir,
    store,
    openLog: (opts) => openMemoryLog(store, opts),
    source: (): LogSource => new MemorySource(store),
    verifierKey: async () => store.verifierKey,
    redactionKey: async () => redaction,
    loadOrCreateRedactionKey: async () => (redaction ??= randomBytes(32)),
  };
}
