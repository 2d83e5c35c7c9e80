// The sync thread's worker (see sync-thread.ts): it waits on the shared control words, runs the
// fdatasync asked for, posts its result there and wakes the event loop — no message, no event
// loop of its own in between.
import { fdatasyncSync } from "node:fs";
import { workerData } from "node:worker_threads";
import { DONE, ERRNO, FD, REQUEST, STOP } from "./sync-control.js";
import { nameThisThread } from "./thread-name.js";

nameThisThread("kt-sync");
const control = new Int32Array(workerData as SharedArrayBuffer);
let seen = 0;
for (;;) {
  Atomics.wait(control, REQUEST, seen);
  const asked = Atomics.load(control, REQUEST);
  if (asked === STOP) break;
  if (asked === seen) continue;
  let errno = 0;
  try {
    fdatasyncSync(Atomics.load(control, FD));
  } catch (err) {
    // Node's errno is the negated system error number; a failure without one counts as EIO.
    errno = -((err as NodeJS.ErrnoException).errno ?? -5);
  }
  Atomics.store(control, ERRNO, errno);
  Atomics.store(control, DONE, asked);
  Atomics.notify(control, DONE);
  seen = asked;
}
