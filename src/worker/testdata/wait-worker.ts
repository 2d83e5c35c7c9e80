// A worker for the tests of calls.ts: replies to {wait} after that many ms (so replies overtake
// each other); {exit} ends the thread with that code.
import { parentPort } from "node:worker_threads";

const port = parentPort!;
port.on("message", ({ id, wait, exit }: { id: number; wait?: number; exit?: number }) => {
  if (exit !== undefined) process.exit(exit);
  setTimeout(() => port.postMessage({ id, waited: wait }), wait);
});
