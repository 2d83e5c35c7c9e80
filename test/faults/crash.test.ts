// Crash safety: a real `kubetrail serve` is SIGKILLed at random moments while several clients
// post webhook batches. After each restart every acknowledged event is in the log exactly once
// and `kubetrail verify` passes; batches in flight at the kill are re-sent (as the apiserver
// does) and dedupe keeps them single. KUBETRAIL_FAULT_KILLS sets how many kills (default 8).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeRng } from "../../bench/gen/rng.js";
import { testSeed } from "../fixtures/seed.js";
import { type Batch, eventKey, makeBatches, sendBatches, type SendOutcome } from "./event-batches.js";
import {
  readLog,
  removeDir,
  requireBuiltCli,
  runVerify,
  sleep,
  startServe,
  type StoredEvent,
  tempDir,
} from "./serve-process.js";

const KILLS = Number(process.env.KUBETRAIL_FAULT_KILLS ?? 8);
const PER_BATCH = 40;

describe("SIGKILL during webhook ingest", () => {
  let dir: string;
  beforeAll(() => {
    requireBuiltCli();
    dir = tempDir("crash");
  });
  afterAll(() => removeDir(dir));

  it(
    `keeps every acknowledged event exactly once across ${KILLS} kills`,
    { timeout: 60_000 + KILLS * 30_000 },
    async () => {
      const rng = makeRng(testSeed(20261121));
      const batches = makeBatches(4242, KILLS * 1600 + 800, PER_BATCH);
      const queue: Batch[] = [...batches];
      const outcome: SendOutcome = { acked: new Set(), statuses: new Map() };
      const dataDir = `${dir}/data`;

      for (let round = 0; round < KILLS; round++) {
        const serve = await startServe(dataDir);
        let killed = false;
        const sending = sendBatches(serve, queue, outcome, { senders: 4, stop: () => killed });
        await sleep(150 + rng.int(900));
        killed = true;
        await serve.kill("SIGKILL");
        await sending;

        // Restart (recovery cuts any torn tail), stop cleanly, then look at the log at rest.
        const again = await startServe(dataDir);
        expect(await again.kill("SIGTERM"), again.output()).toBe(0);
        const verify = await runVerify(dataDir);
        expect(verify.report.problems ?? [], `round ${round}: ${verify.stderr}`).toEqual([]);
        expect(verify.code).toBe(0);
        const counts = countKeys(await readLog(dataDir));
        const missingOrDoubled = [...outcome.acked]
          .flatMap((id) => (batches[id] as Batch).keys)
          .filter((k) => counts.get(k) !== 1)
          .map((k) => `${k} ×${counts.get(k) ?? 0}`);
        expect(missingOrDoubled.slice(0, 5), `round ${round}`).toEqual([]);
      }

      // The apiserver keeps retrying: now without kills, every batch goes in, nothing twice.
      const serve = await startServe(dataDir);
      await sendBatches(serve, queue, outcome, { senders: 4 });
      expect(await serve.kill("SIGTERM")).toBe(0);
      expect(queue).toHaveLength(0);
      expect(outcome.acked.size).toBe(batches.length);
      const verify = await runVerify(dataDir);
      expect(verify.code, JSON.stringify(verify.report.problems)).toBe(0);
      const stored = await readLog(dataDir);
      const counts = countKeys(stored);
      const all = batches.flatMap((b) => b.keys);
      expect(all.filter((k) => counts.get(k) !== 1).slice(0, 5)).toEqual([]);
      expect(stored.filter((e) => e.isAuditEvent)).toHaveLength(all.length);
      // Kills must have landed mid-ingest: some requests failed and were retried.
      expect(outcome.statuses.get(0) ?? 0).toBeGreaterThan(0);
    },
  );
});

function countKeys(stored: StoredEvent[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of stored) {
    if (!e.isAuditEvent) continue;
    const k = eventKey(e);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}
