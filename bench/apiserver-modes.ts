// What an API request costs in the kube-apiserver's two audit webhook modes, with kubetrail up
// and with kubetrail down: a real kube-apiserver v1.20.2 (test/kube harness, built by
// scripts/kube-apiserver.sh) wired to a real `kubetrail serve` with the flags
// `kubetrail apiserver-config` prints, only --audit-webhook-mode changed. Batch mode is the
// baseline. Not part of `npm run bench` (it needs the cached apiserver and takes minutes):
//   npm run bench:build && node build/bench/apiserver-modes.js [--requests=20] [--down-requests=3]
import type { Serve } from "../test/faults/serve-process.js";
import { type Cluster, startCluster, type WebhookMode } from "../test/kube/cluster.js";
import { startPairedServe } from "../test/kube/kubetrail-pairing.js";
import { intOption, log, parseBenchArgs, printNote, runIfMain, tempDir } from "./harness.js";

interface Row {
  mode: WebhookMode;
  kubetrail: "up" | "down";
  latenciesMs: number[];
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** One GET as the admin, timed from request to full reply; the apiserver audits it at Metadata. */
async function timedGet(cluster: Cluster): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await cluster.get("/api/v1/namespaces/default", 300_000);
  if (r.status !== 200) throw new Error(`GET /api/v1/namespaces/default answered ${r.status}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function run(mode: WebhookMode, requests: number, downRequests: number): Promise<Row[]> {
  const pairing = await startPairedServe(tempDir(`apiserver-${mode}`), { mode });
  let serve: Serve | undefined = pairing.serve;
  // Started with kubetrail up: in blocking mode with kubetrail down, the apiserver's own
  // bootstrap requests would stall it before it is ever ready.
  const cluster = await startCluster({ apiserverArgs: pairing.apiserverArgs });
  try {
    const rows: Row[] = [];
    const measure = async (kubetrail: Row["kubetrail"], n: number) => {
      const latenciesMs: number[] = [];
      for (let i = 0; i < n; i++) {
        latenciesMs.push(await timedGet(cluster));
        log(
          `apiserver-modes: ${mode}, kubetrail ${kubetrail}: request ${i + 1}/${n} ${latenciesMs.at(-1)!.toFixed(0)} ms`,
        );
      }
      rows.push({ mode, kubetrail, latenciesMs });
    };
    await timedGet(cluster); // warm-up: connections, caches
    await measure("up", requests);
    await pairing.serve.kill("SIGTERM");
    serve = undefined;
    await measure("down", mode === "blocking" ? downRequests : requests);
    return rows;
  } finally {
    await cluster.stop();
    await serve?.kill("SIGTERM");
  }
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const requests = intOption(args, "requests", 20);
  const downRequests = intOption(args, "down-requests", 3);
  const rows = [
    ...(await run("batch", requests, downRequests)),
    ...(await run("blocking", requests, downRequests)),
  ];
  const lines = [
    "| webhook mode | kubetrail | requests | p50 ms | max ms | vs batch, kubetrail up (p50) |",
    "| --- | --- | ---: | ---: | ---: | ---: |",
  ];
  const base = percentile(
    [...rows[0]!.latenciesMs].sort((a, b) => a - b),
    50,
  );
  for (const r of rows) {
    const sorted = [...r.latenciesMs].sort((a, b) => a - b);
    const p50 = percentile(sorted, 50);
    lines.push(
      `| ${r.mode} | ${r.kubetrail} | ${sorted.length} | ${p50.toFixed(1)} | ${sorted.at(-1)!.toFixed(1)} | ${(p50 / base).toFixed(1)}× |`,
    );
  }
  printNote(lines.join("\n"));
  printNote(
    "Each request is one `GET /api/v1/namespaces/default` as the admin, one after another, against a real kube-apiserver v1.20.2 " +
      "whose flags are those `kubetrail apiserver-config --kubernetes-version 1.20` prints (`--audit-webhook-initial-backoff=5s`), " +
      'only `--audit-webhook-mode` changed. "down": `kubetrail serve` stopped (connection refused). In blocking mode the apiserver ' +
      "sends each event before it answers and retries a failed send with backoff (5 s, ×1.5, 5 tries), so every audited request waits out the retries.",
  );
}

runIfMain(import.meta.url, main);
