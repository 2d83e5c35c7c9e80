// The journal's fdatasync on a thread of its own (src/worker/sync-thread.ts). The journal's
// group commit waits on it for every acknowledgement; on libuv's pool it would queue behind
// the Ed25519 jobs of every request in flight (one FIFO for all), so each group waited for all
// the signing submitted before it, and requests piled up waiting for durability while the
// cores ran out of work. Here a sync starts as soon as it is asked for, alongside the pool.
import { SyncThread as Thread } from "../worker/sync-thread.js";
import { WitnessError } from "./errors.js";

export class SyncThread {
  private readonly thread = new Thread("the sync thread");

  /**
   * fdatasync(fd) on the sync thread; syncs run one after another, in the order asked. A failed
   * sync rejects with the system's error (its code kept); a thread that is gone, with
   * WitnessError "io".
   */
  async fdatasync(fd: number): Promise<void> {
    try {
      await this.thread.fdatasync(fd);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== undefined) throw err;
      throw new WitnessError("io", (err as Error).message, { cause: err });
    }
  }

  /** Stops the thread (after the syncs asked for have been answered, when the caller waited for them). */
  async close(): Promise<void> {
    await this.thread.close();
  }
}
