// Where the cached kube-apiserver, etcd and kubectl are: scripts/kube-apiserver.sh builds them
// once per machine (npm test runs it first) and prints their directory.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

// From test/kube/ here, or build/test/kube/ when a bench compiles this file: the repository's
// scripts/ is the first one found walking up.
function findScript(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "scripts", "kube-apiserver.sh");
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir)
      return fileURLToPath(new URL("../../scripts/kube-apiserver.sh", import.meta.url));
  }
}

const SCRIPT = findScript();

export interface KubeBinaries {
  apiserver: string;
  etcd: string;
  kubectl: string;
}

let cached: KubeBinaries | undefined;

/** The cached binaries; throws, saying how to build them, when they are not there. */
export function kubeBinaries(): KubeBinaries {
  if (cached) return cached;
  const r = spawnSync("bash", [SCRIPT, "--check"], { encoding: "utf8" });
  if (r.status !== 0) {
    throw new Error(
      `kube-apiserver is not built: ${r.stderr.trim() || `${SCRIPT} --check exited ${r.status}`}`,
    );
  }
  const dir = r.stdout.trim();
  const bins = {
    apiserver: path.join(dir, "kube-apiserver"),
    etcd: path.join(dir, "etcd"),
    kubectl: path.join(dir, "kubectl"),
  };
  for (const file of Object.values(bins)) {
    if (!existsSync(file)) throw new Error(`${file} is missing; run ${SCRIPT}`);
  }
  cached = bins;
  return bins;
}
