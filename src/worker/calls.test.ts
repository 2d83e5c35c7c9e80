import { describe, expect, it } from "vitest";
import { WorkerCalls } from "./calls.js";
import { startWorker, workerModule } from "./start.js";

const WAIT_WORKER = workerModule(import.meta.url, "testdata/wait-worker");
const waitWorker = () => new WorkerCalls<{ waited: number }>(startWorker(WAIT_WORKER), "test worker");

describe("calls to a worker thread", () => {
  it("match each reply to its call, whatever order the replies come in", async () => {
    const calls = waitWorker();
    const waits = [40, 5, 25, 0, 15];
    const replies = await Promise.all(waits.map((wait) => calls.call({ wait })));
    expect(replies.map((r) => r.waited)).toEqual(waits);
    expect(calls.waiting).toBe(0);
    await calls.terminate();
  });

  it("fail the pending and every later call once the worker dies", async () => {
    const calls = waitWorker();
    const slow = calls.call({ wait: 10_000 });
    const dying = calls.call({ exit: 3 });
    await expect(slow).rejects.toThrow("test worker stopped (exit code 3)");
    await expect(dying).rejects.toThrow("test worker stopped (exit code 3)");
    await expect(calls.call({ wait: 0 })).rejects.toThrow("test worker stopped (exit code 3)");
    await calls.terminate();
  });

  it("fail calls after terminate instead of leaving them waiting", async () => {
    const calls = waitWorker();
    const pending = expect(calls.call({ wait: 10_000 })).rejects.toThrow("test worker stopped (closed)");
    await calls.terminate();
    await pending;
    await expect(calls.call({ wait: 0 })).rejects.toThrow("test worker stopped (closed)");
  });
});
