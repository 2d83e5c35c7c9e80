import { startWorker } from "../worker/start.js";
import { describe, expect, it } from "vitest";
import { MemoryBudget } from "./memory-budget.js";

describe("MemoryBudget", () => {
  it("reserves what fits, refuses the rest, and lets one request alone go over", () => {
    const b = new MemoryBudget(1000);
    expect(b.tryReserve(600)).toBe(true);
    expect(b.tryReserve(600)).toBe(false);
    expect(b.tryReserve(600, 0)).toBe(false); // others hold memory: no exception
    expect(b.tryReserve(600, 600)).toBe(true); // the 600 held are the caller's own
    b.release(600);
    b.release(600);
    expect(b.usedBytes).toBe(0);
    expect(b.tryReserve(5000, 0)).toBe(true);
    expect(b.tryReserve(1)).toBe(false);
    b.release(5000);
    expect(b.usedBytes).toBe(0);
  });

  it("is one budget across threads", async () => {
    const b = new MemoryBudget(1 << 20);
    // The worker reserves and releases through its own MemoryBudget over the same memory.
    const w = startWorker(new URL("./testdata/budget-worker.ts", import.meta.url), {
      maxBytes: b.maxBytes,
      shared: b.shared,
    });
    await new Promise((r) => w.once("message", r));
    await w.terminate();
    expect(b.usedBytes).toBe(100);
  });
});
