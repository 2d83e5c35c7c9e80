import { describe, expect, it } from "vitest";
import { SlidingWindows } from "./window.js";

describe("SlidingWindows", () => {
  it("fires when the threshold is reached within the window, per key, then starts afresh", () => {
    const w = new SlidingWindows<string>(3, 10_000);
    expect(w.add("a", 0, "a0")).toBeUndefined();
    expect(w.add("b", 1_000, "b0")).toBeUndefined();
    expect(w.add("a", 5_000, "a1")).toBeUndefined();
    expect(w.add("a", 9_000, "a2")).toEqual(["a0", "a1", "a2"]);
    expect(w.add("a", 9_500, "a3")).toBeUndefined();
    expect(w.add("b", 12_000, "b1")).toBeUndefined();
    // b0 (t=1s) has left the window by t=11s+.
    expect(w.add("b", 12_500, "b2")).toBeUndefined();
  });

  it("counts the same events the same way when they arrive slightly out of order", () => {
    const fired = (times: number[]) => {
      const w = new SlidingWindows<number>(3, 10_000);
      return times.map((t) => w.add("k", t, t)).filter((x) => x !== undefined);
    };
    expect(fired([0, 4_000, 11_000, 12_000])).toEqual([[4_000, 11_000, 12_000]]);
    expect(fired([4_000, 0, 12_000, 11_000])).toEqual([[4_000, 11_000, 12_000]]);
  });
});
