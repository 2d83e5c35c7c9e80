// Long work on the store's writer thread (a merge, a filter build) goes in slices, so a flush
// that arrives meanwhile waits for a slice, not for the whole job.
import { IngestError } from "../errors.js";

/** Records handled between two looks at the thread's messages. */
export const SLICE_RECORDS = 16_384;

/** Thrown by a job that stopped because the store is closing: not a failure. */
export class Cancelled extends IngestError {
  constructor(message: string) {
    super("cancelled", message);
  }
}

/** Lets other work of the thread run; throws Cancelled when `stopping()` says so afterwards. */
export async function giveWay(stopping: () => boolean): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  if (stopping()) throw new Cancelled("dedupe store closing");
}
