// Where kubetrail was found, remembered per kube context for a short while, so `kubectl trail`
// does not ask the apiserver for the kubetrail-client ConfigMap on every run (a connection and
// a request before kubetrail is even asked). The caller checks a remembered answer against the
// server before trusting it and forgets it when that fails (kubectl/connect.ts).
//
// Files: `$XDG_CACHE_HOME/kubetrail/discovery/<digest>.json` (else `~/.cache/…`), one per
// (apiserver, context, kubetrail namespace), readable by the user only. TTL:
// KUBETRAIL_DISCOVERY_TTL in seconds (default 300; 0 turns the cache off).
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Discovered } from "./discover.js";

const DEFAULT_DISCOVERY_TTL_S = 300;

export interface DiscoveryKey {
  apiserver: string;
  context: string;
  namespace: string;
}

export interface DiscoveryCache {
  get(key: DiscoveryKey): Discovered | undefined;
  put(key: DiscoveryKey, found: Discovered): void;
  drop(key: DiscoveryKey): void;
}

interface Stored {
  savedAtMs: number;
  key: DiscoveryKey;
  found: Discovered;
}

function ttlSeconds(env: NodeJS.ProcessEnv): number {
  const raw = env["KUBETRAIL_DISCOVERY_TTL"];
  if (raw === undefined || raw.trim() === "") return DEFAULT_DISCOVERY_TTL_S;
  const n = Number(raw);
  // A bad value must not stop a read: the cache is only a shortcut.
  return Number.isFinite(n) && n >= 0 ? n : DEFAULT_DISCOVERY_TTL_S;
}

function isDiscovered(v: unknown): v is Discovered {
  const d = v as Partial<Discovered> | null;
  return (
    d !== null &&
    typeof d === "object" &&
    typeof d.server === "string" &&
    typeof d.origin === "string" &&
    (d.caPem === undefined || typeof d.caPem === "string") &&
    (d.verifierKey === undefined || typeof d.verifierKey === "string")
  );
}

/** The cache in the user's cache directory; a damaged or unreadable entry is a miss, never an error. */
export function fileDiscoveryCache(env: NodeJS.ProcessEnv = process.env, now = Date.now): DiscoveryCache {
  const ttlMs = ttlSeconds(env) * 1000;
  const dir = path.join(env["XDG_CACHE_HOME"] || path.join(os.homedir(), ".cache"), "kubetrail", "discovery");
  const file = (k: DiscoveryKey) =>
    path.join(
      dir,
      `${createHash("sha256")
        .update(JSON.stringify([k.apiserver, k.context, k.namespace]))
        .digest("hex")
        .slice(0, 32)}.json`,
    );
  const same = (a: DiscoveryKey, b: DiscoveryKey) =>
    a.apiserver === b.apiserver && a.context === b.context && a.namespace === b.namespace;
  return {
    get(key) {
      if (ttlMs === 0) return undefined;
      let stored: Stored;
      try {
        stored = JSON.parse(readFileSync(file(key), "utf8")) as Stored;
      } catch {
        return undefined;
      }
      const age = now() - stored.savedAtMs;
      if (!(age >= 0 && age < ttlMs) || !same(stored.key, key) || !isDiscovered(stored.found))
        return undefined;
      return stored.found;
    },
    put(key, found) {
      if (ttlMs === 0) return;
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const target = file(key);
        const tmp = `${target}.${process.pid}.tmp`;
        writeFileSync(tmp, JSON.stringify({ savedAtMs: now(), key, found } satisfies Stored), {
          mode: 0o600,
        });
        renameSync(tmp, target);
      } catch {
        // Not writable (a read-only home): every run discovers, as without a cache.
      }
    },
    drop(key) {
      rmSync(file(key), { force: true });
    },
  };
}
