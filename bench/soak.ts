// Memory flatness over a long run: append 5 million generated events (--entries) to a
// kubetrail fs log, sampling memory at every million, then verify the log at 1 million and
// at the end. Flat means the figures at the end are those at 1M: nothing grows with the size
// of the log. Besides RSS (which keeps the allocators' high-water marks) each step reads what
// is still live after full collections (see liveMemory): the heap and the ArrayBuffers
// (commit buffers, queued bundle writes), the memory kubetrail actually holds.
// Run with `npm run bench -- --soak` (or bench/soak.sh); not part of --quick.
import { cpSync } from "node:fs";
import path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import { openFsLog } from "../src/store/fs/storage.js";
import { generateEventLines } from "./gen/events.js";
import {
  intOption,
  log,
  markdownTable,
  parseBenchArgs,
  printNote,
  runIfMain,
  runMeasured,
  tempDir,
} from "./harness.js";
import { kubetrailCli } from "./lib/kubetrail-cli.js";

v8.setFlagsFromString("--expose-gc");
/** A full collection on demand, without needing `node --expose-gc` from whoever starts the bench. */
const gc = vm.runInNewContext("gc") as () => void;

/**
 * What is live: V8 frees the memory of dead ArrayBuffers on a background thread after a
 * collection, so one read right after it still counted up to 60 MB of garbage here.
 */
async function liveMemory(): Promise<NodeJS.MemoryUsage> {
  gc();
  await new Promise((resolve) => setTimeout(resolve, 200));
  gc();
  return process.memoryUsage();
}

const BATCH = 500;
const IN_FLIGHT = 8;

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const total = intOption(args, "entries", 5_000_000);
  const step = intOption(args, "step", 1_000_000);
  const dir = tempDir("soak");
  const dataDir = path.join(dir, "data");
  const kt = await openFsLog(dataDir);
  const appendRows: string[][] = [];
  const cli = kubetrailCli();
  const verifyRows: string[][] = [];
  let appended = 0;
  let bytes = 0;
  let batch: Buffer[] = [];
  const inFlight: Promise<unknown>[] = [];
  const t0 = process.hrtime.bigint();
  let lastT = t0;
  const cpu0 = process.cpuUsage();
  for (const line of generateEventLines({ seed: 11, count: total })) {
    const b = Buffer.from(line, "utf8");
    batch.push(b);
    bytes += b.length;
    if (batch.length === BATCH) {
      inFlight.push(kt.append(batch));
      appended += batch.length;
      batch = [];
      if (inFlight.length >= IN_FLIGHT) await Promise.all(inFlight.splice(0));
      if (appended % step === 0) {
        await Promise.all(inFlight.splice(0));
        await kt.waitIntegrated(appended);
        const now = process.hrtime.bigint();
        const mem = process.memoryUsage();
        const live = await liveMemory();
        appendRows.push([
          appended.toLocaleString("en-US"),
          (mem.rss / 2 ** 20).toFixed(0),
          (mem.heapUsed / 2 ** 20).toFixed(0),
          (live.heapUsed / 2 ** 20).toFixed(0),
          (live.arrayBuffers / 2 ** 20).toFixed(0),
          (step / (Number(now - lastT) / 1e9)).toFixed(0),
          (bytes / 1e9).toFixed(2),
        ]);
        log(`soak: ${appended} appended, rss ${(mem.rss / 2 ** 20).toFixed(0)} MB`);
        if (appended === step) verifyRows.push(await verifyCopy(cli, dataDir, dir, appended));
        // The next step's rate counts appending only, not this sampling or the verify.
        lastT = process.hrtime.bigint();
      }
    }
  }
  if (batch.length > 0) inFlight.push(kt.append(batch));
  await Promise.all(inFlight);
  await kt.waitIntegrated(kt.size());
  await kt.close();
  const cpu = process.cpuUsage(cpu0);
  verifyRows.push(await verifyRun(cli, dataDir, kt.size()));

  process.stdout.write(
    `\n#### Soak: append ${total.toLocaleString("en-US")} generated events (one process, generator included)\n\n`,
  );
  process.stdout.write(
    markdownTable(
      [
        "entries",
        "RSS MB",
        "heap MB",
        "live heap MB (after full GC)",
        "live ArrayBuffers MB (after full GC)",
        "entries/s (last step)",
        "GB appended",
      ],
      appendRows,
    ) + "\n",
  );
  printNote(
    `Append total: ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(0)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(0)} CPU s (including generating the events).`,
  );
  process.stdout.write(`\n#### Soak: kubetrail verify --data at each size\n\n`);
  process.stdout.write(
    markdownTable(["entries", "wall s", "CPU s", "peak RSS MB", "entries/s"], verifyRows) + "\n",
  );
}

/** Verifies a snapshot copy at the first step, so the live log keeps growing meanwhile. */
async function verifyCopy(cli: string, dataDir: string, dir: string, size: number): Promise<string[]> {
  const copy = path.join(dir, `copy-${size}`);
  cpSync(dataDir, copy, { recursive: true, filter: (src) => !src.endsWith("LOCK") });
  return verifyRun(cli, copy, size);
}

async function verifyRun(cli: string, dataDir: string, size: number): Promise<string[]> {
  log(`soak: verifying ${size} entries`);
  const r = await runMeasured(process.execPath, [cli, "verify", "--data", dataDir, "-o", "json"]);
  if (r.code !== 0)
    throw new Error(`verify of ${size} entries failed: ${r.stdout.slice(0, 400)} ${r.stderr.slice(0, 400)}`);
  return [
    size.toLocaleString("en-US"),
    r.wallS.toFixed(1),
    r.cpuS.toFixed(1),
    r.peakRssMB.toFixed(0),
    (size / r.wallS).toFixed(0),
  ];
}

runIfMain(import.meta.url, main);
