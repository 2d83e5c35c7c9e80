// The index's back-pressure on ingest, against an indexer's three answers set by hand (the
// running serve is test/index-backpressure.test.ts): when it holds a batch, and for how long.
import { describe, expect, it } from "vitest";
import type { IndexLag, IndexStatus } from "./indexer.js";
import { indexLagGate } from "./lag-gate.js";

function indexerAt() {
  let caughtUp!: () => void;
  const state = {
    lag: { entries: 0, seconds: 0 } as IndexLag,
    status: { state: "ready", indexed: 0 } as IndexStatus,
    caught: new Promise<void>((resolve) => (caughtUp = resolve)),
  };
  return {
    state,
    caughtUp: () => caughtUp(),
    indexer: { backlog: () => state.lag, status: () => state.status, caughtUp: () => state.caught },
  };
}

/** How long `wait()` took, timed from before it is called (a promise made first would start before the clock). */
const elapsed = async (wait: () => Promise<void>): Promise<number> => {
  const started = performance.now();
  await wait();
  return performance.now() - started;
};

describe("the index lag gate", () => {
  it("holds a batch while the index is behind, until it is back within the bound or the wait is up", async () => {
    const at = indexerAt();
    const gate = indexLagGate(at.indexer, 1_000, { maxWaitMs: 200, pollMs: 5 });
    at.caughtUp();
    await at.state.caught;
    await gate.wait();
    expect(gate.waited().batches).toBe(0);

    at.state.lag = { entries: 50_000, seconds: 4 };
    expect(await elapsed(() => gate.wait())).toBeGreaterThanOrEqual(200);
    expect(gate.waited().batches).toBe(1);

    // Back within the bound while a batch waits: it goes then, long before its wait is up.
    const patient = indexLagGate(at.indexer, 1_000, { maxWaitMs: 10_000, pollMs: 5 });
    await at.state.caught;
    let changedAt = Infinity;
    const waitedMs = await elapsed(() => {
      const waiting = patient.wait();
      setTimeout(() => {
        at.state.lag = { entries: 100, seconds: 0.5 };
        changedAt = performance.now();
      }, 50);
      return waiting;
    });
    // Not before the index was back within the bound (timers may fire a little early).
    expect(performance.now()).toBeGreaterThanOrEqual(changedAt);
    expect(waitedMs).toBeLessThan(5_000);
    expect(patient.waited().batches).toBe(1);
    expect(gate.waited().seconds).toBeGreaterThan(0.19);
  });

  it("never holds a batch before the index first caught up, nor while it is rebuilt", async () => {
    const at = indexerAt();
    const gate = indexLagGate(at.indexer, 1_000, { maxWaitMs: 200, pollMs: 5 });
    at.state.lag = { entries: 1_000_000, seconds: 60 };
    await gate.wait();
    expect(gate.waited().batches).toBe(0);
    at.caughtUp();
    await at.state.caught;
    at.state.status = { state: "rebuilding", reason: "damaged", indexed: 10, target: 1_000_000 };
    await gate.wait();
    expect(gate.waited().batches).toBe(0);
    at.state.status = { state: "ready", indexed: 10 };
    await gate.wait();
    expect(gate.waited().batches).toBe(1);
  });

  it("allows the integration interval on top of the bound", async () => {
    const at = indexerAt();
    const gate = indexLagGate(at.indexer, 1_000, { maxWaitMs: 100, pollMs: 5, allowanceMs: 500 });
    at.caughtUp();
    await at.state.caught;
    at.state.lag = { entries: 5_000, seconds: 1.4 };
    await gate.wait();
    expect(gate.waited().batches).toBe(0);
    at.state.lag = { entries: 6_000, seconds: 1.6 };
    await gate.wait();
    expect(gate.waited().batches).toBe(1);
  });

  it("with a bound of 0 never holds a batch", async () => {
    const at = indexerAt();
    const gate = indexLagGate(at.indexer, 0, { maxWaitMs: 200, pollMs: 5 });
    at.caughtUp();
    await at.state.caught;
    at.state.lag = { entries: 1_000_000, seconds: 60 };
    await gate.wait();
    expect(gate.waited().batches).toBe(0);
  });
});
