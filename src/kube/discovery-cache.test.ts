import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fileDiscoveryCache } from "./discovery-cache.js";

const KEY = { apiserver: "https://10.0.0.1:6443", context: "prod", namespace: "kubetrail" };
const FOUND = {
  server: "https://kubetrail.example:8443",
  caPem: "-----BEGIN CERTIFICATE-----\n…",
  verifierKey: "kubetrail.example/log+01234567+AAAA",
  origin: "ConfigMap kubetrail/kubetrail-client",
};

describe("the discovery cache", () => {
  const dirs: string[] = [];
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-discovery-"));
    dirs.push(dir);
    return { XDG_CACHE_HOME: dir, ...extra };
  };
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("remembers per apiserver, context and namespace, for the TTL only, in a file of the user's", () => {
    const e = env();
    let now = 1_000_000;
    const cache = fileDiscoveryCache(e, () => now);
    expect(cache.get(KEY)).toBeUndefined();
    cache.put(KEY, FOUND);
    expect(cache.get(KEY)).toEqual(FOUND);
    expect(cache.get({ ...KEY, context: "staging" })).toBeUndefined();
    expect(cache.get({ ...KEY, apiserver: "https://10.0.0.2:6443" })).toBeUndefined();
    expect(cache.get({ ...KEY, namespace: "audit" })).toBeUndefined();
    const dir = path.join(e["XDG_CACHE_HOME"]!, "kubetrail", "discovery");
    const [file] = readdirSync(dir);
    expect(statSync(path.join(dir, file!)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    now += 299_000;
    expect(cache.get(KEY)).toEqual(FOUND);
    now += 2_000;
    expect(cache.get(KEY)).toBeUndefined();
    // A clock that went back is no reason to trust an entry from the future.
    now = 0;
    expect(cache.get(KEY)).toBeUndefined();
  });

  it("forgets on drop, takes its TTL from KUBETRAIL_DISCOVERY_TTL, and is off at 0", () => {
    const e = env({ KUBETRAIL_DISCOVERY_TTL: "10" });
    let now = 5_000;
    const cache = fileDiscoveryCache(e, () => now);
    cache.put(KEY, FOUND);
    now += 9_000;
    expect(cache.get(KEY)).toEqual(FOUND);
    now += 2_000;
    expect(cache.get(KEY)).toBeUndefined();
    cache.put(KEY, FOUND);
    cache.drop(KEY);
    expect(cache.get(KEY)).toBeUndefined();
    const off = fileDiscoveryCache({ ...e, KUBETRAIL_DISCOVERY_TTL: "0" });
    off.put({ ...KEY, context: "other" }, FOUND);
    expect(off.get({ ...KEY, context: "other" })).toBeUndefined();
    expect(readdirSync(path.join(e["XDG_CACHE_HOME"]!, "kubetrail", "discovery"))).toEqual([]);
  });

  it("takes a damaged or foreign entry as a miss, and a cache it cannot write as no cache", () => {
    const e = env();
    const cache = fileDiscoveryCache(e);
    cache.put(KEY, FOUND);
    const dir = path.join(e["XDG_CACHE_HOME"]!, "kubetrail", "discovery");
    const file = path.join(dir, readdirSync(dir)[0]!);
    writeFileSync(file, '{"savedAtMs": 1, "key": ');
    expect(cache.get(KEY)).toBeUndefined();
    writeFileSync(file, JSON.stringify({ savedAtMs: Date.now(), key: KEY, found: { server: 42 } }));
    expect(cache.get(KEY)).toBeUndefined();
    writeFileSync(
      file,
      JSON.stringify({ savedAtMs: Date.now(), key: { ...KEY, context: "x" }, found: FOUND }),
    );
    expect(cache.get(KEY)).toBeUndefined();
    // XDG_CACHE_HOME is a file: nothing can be written under it, and nothing fails.
    const blocked = fileDiscoveryCache({ XDG_CACHE_HOME: file });
    blocked.put(KEY, FOUND);
    expect(blocked.get(KEY)).toBeUndefined();
  });
});
