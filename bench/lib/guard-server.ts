// A child process for bench/guard.ts: the admission route on the real HTTPS server core with
// the real AdmissionReviewer, either appending each decision to an fs log (group commit,
// fdatasync, as serve does) or answering without logging, so the cost of logging is the only
// difference between the two rows.
//
//   node build/bench/lib/guard-server.js --log=fs|fs-plain|none|bare --data=DIR --policies=DIR [--spacing=MS]
//
// bare answers every review with a fixed allow, no policy evaluated and nothing logged: the
// same server core, TLS and authentication, so its row is the floor this machine and load
// generator put under any webhook.
// fs-plain appends the way a plain log writer is used: without the entries' leaf hashes (the
// log hashes each commit on its worker) and without spacing commits, to show what the
// reviewer's choices save under the same load. --spacing=MS sets the fs log's least time
// between commit starts (GroupCommitLimits.minSpacingMs; default: the log's own).
// prints one line {"port":N,"token":"…"} when ready; SIGTERM stops it. SIGUSR2 starts counting its
// own stalls (the event loop's worst delay, GC pauses), printed as one line {"stalls":…} at
// SIGTERM, so a tail in the bench's table can be told apart from the generator's.
import { randomBytes } from "node:crypto";
import {
  constants,
  monitorEventLoopDelay,
  PerformanceObserver,
  type PerformanceEntry,
} from "node:perf_hooks";
import { pino } from "pino";
import { AdmissionReviewer, type AdmissionOutcome } from "../../src/guard/admission.js";
import { NamespaceCache } from "../../src/guard/namespaces.js";
import { loadPolicies } from "../../src/guard/policy/load.js";
import { createCa, issueCert } from "../../src/server/certs.js";
import { createMetrics } from "../../src/server/metrics.js";
import { admissionRoutes } from "../../src/server/routes/admission.js";
import { startServer } from "../../src/server/server.js";
import { openFsLog } from "../../src/store/fs/storage.js";
import type { LogWriter } from "../../src/store/types.js";

const arg = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

const mode = arg("log") ?? "fs";
const policies = loadPolicies(arg("policies") ? [arg("policies")!] : [], { builtins: true });
const spacing = mode === "fs-plain" ? "0" : arg("spacing");
const log =
  mode === "fs" || mode === "fs-plain"
    ? await openFsLog(
        arg("data")!,
        spacing === undefined ? {} : { limits: { minSpacingMs: Number(spacing) } },
      )
    : undefined;
const plain: LogWriter | undefined = log && { append: (entries) => log.append(entries) };
let next = 0;
/** Answers at once, as if the decision had been stored: the row without logging. */
const discard: LogWriter = {
  append: (entries) => Promise.resolve({ firstIndex: (next += entries.length) - entries.length }),
};
const reviewer = new AdmissionReviewer({
  policies: () => policies,
  writer: (mode === "fs-plain" ? plain : log) ?? discard,
  namespaces: new NamespaceCache(),
});
/** The bare row's answer: parsed enough to echo the uid, nothing decided. */
function allowAll(body: unknown): Promise<AdmissionOutcome> {
  const uid = (body as { request?: { uid?: string } }).request?.uid ?? "";
  const response = {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response: { uid, allowed: true, auditAnnotations: { decision: "fixed" } },
  };
  return Promise.resolve({ response, index: 0 } as unknown as AdmissionOutcome);
}
const token = randomBytes(24).toString("base64url");
const ca = await createCa("bench CA");
const cert = await issueCert(ca, {
  commonName: "localhost",
  hosts: ["localhost", "127.0.0.1"],
  usage: "server",
  days: 1,
});
const server = await startServer(
  {
    routes: admissionRoutes({
      review: mode === "bare" ? allowAll : (body) => reviewer.review(body),
      limits: { maxBytes: 8 << 20, maxDecodedBytes: 8 << 20 },
      accepting: () => true,
    }),
    auth: { ingestTokens: [token], readTokens: [] },
    logger: pino({ level: "warn" }),
    metrics: createMetrics(),
    tls: { cert: cert.certPem, key: cert.keyPem },
  },
  { host: "127.0.0.1", port: 0 },
);
process.stdout.write(JSON.stringify({ port: server.port, token, ca: ca.certPem }) + "\n");
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
const gc = { count: 0, totalMs: 0, maxMs: 0, majorCount: 0, majorMs: 0 };
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gc.count++;
    gc.totalMs += e.duration;
    gc.maxMs = Math.max(gc.maxMs, e.duration);
    if (
      (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ===
      constants.NODE_PERFORMANCE_GC_MAJOR
    ) {
      gc.majorCount++;
      gc.majorMs += e.duration;
    }
  }
});
process.on("SIGUSR2", () => {
  loopDelay.reset();
  loopDelay.enable();
  Object.assign(gc, { count: 0, totalMs: 0, maxMs: 0, majorCount: 0, majorMs: 0 });
  gcObserver.observe({ entryTypes: ["gc"] });
});
process.once("SIGTERM", () => {
  gcObserver.disconnect();
  const stalls = { loopDelayMaxMs: loopDelay.max / 1e6, gc };
  process.stdout.write(JSON.stringify({ stalls }) + "\n");
  void server
    .close(1000)
    .then(() => log?.close())
    .then(() => process.exit(0));
});
