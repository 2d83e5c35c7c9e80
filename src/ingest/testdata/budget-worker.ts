// A worker for memory-budget.test.ts: reserves and releases in a loop on the budget it is
// given, then keeps 100 bytes, so the test sees whether both threads counted in one place.
import { parentPort, workerData } from "node:worker_threads";
import { MemoryBudget } from "../memory-budget.js";

const { maxBytes, shared } = workerData as { maxBytes: number; shared: SharedArrayBuffer };
const budget = new MemoryBudget(maxBytes, shared);
for (let i = 0; i < 10_000; i++) {
  if (budget.tryReserve(7)) budget.release(7);
}
budget.tryReserve(100);
parentPort!.postMessage("done");
