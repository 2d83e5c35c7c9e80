// The words a sync thread and its caller share (sync-thread.ts, sync-worker.ts), as indexes
// into an Int32Array over a SharedArrayBuffer.

/** The number of the latest sync asked for (the caller writes it, then wakes the thread). */
export const REQUEST = 0;
/** Its file descriptor. */
export const FD = 1;
/** The number of the latest sync finished (the thread writes it, then wakes the caller). */
export const DONE = 2;
/** That sync's result: 0, or the system's error number. */
export const ERRNO = 3;
export const CONTROL_WORDS = 4;
/** Written to REQUEST to end the thread. */
export const STOP = -1;
