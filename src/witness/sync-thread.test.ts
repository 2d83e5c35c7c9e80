import { describe, expect, it } from "vitest";
import { WitnessError } from "./errors.js";
import { SyncThread } from "./sync-thread.js";

// The thread itself is tested in src/worker/sync-thread.test.ts; here, the witness's error contract.
describe("the witness's SyncThread", () => {
  it("keeps a failed sync's errno code, and refuses syncs once its thread is gone as an io error", async () => {
    const thread = new SyncThread();
    await expect(thread.fdatasync(2 ** 30)).rejects.toMatchObject({ code: "EBADF" });
    await thread.close();
    const refused = thread.fdatasync(0);
    await expect(refused).rejects.toBeInstanceOf(WitnessError);
    await expect(refused).rejects.toMatchObject({ code: "io", message: "the sync thread stopped (closed)" });
  });
});
