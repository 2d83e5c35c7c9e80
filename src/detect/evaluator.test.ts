import { describe, expect, it } from "vitest";
import { localEvaluator } from "./evaluator.js";

describe("evaluating in this thread", () => {
  it("lets other work run between slices of a large batch", async () => {
    const event = { kind: "Event", apiVersion: "audit.k8s.io/v1", auditID: "a", stage: "ResponseComplete" };
    const data = new TextEncoder().encode(JSON.stringify(event));
    const entries = Array.from({ length: 600 }, (_, index) => ({ index, data }));
    const order: string[] = [];
    setImmediate(() => order.push("other work"));
    await localEvaluator([])
      .evaluate(entries)
      .then(() => order.push("evaluated"));
    // Unsliced, the batch would finish (and its promise settle) before any queued I/O ran.
    expect(order).toEqual(["other work", "evaluated"]);
  });
});
