// Writing long output without holding it: each chunk waits for the stream to take the last
// one, so memory stays flat when the reader (a pipe, a slow terminal) is slower than the source.
import { once } from "node:events";
import type { Writable } from "node:stream";

export async function writeOut(out: Writable, text: string): Promise<void> {
  if (text === "") return;
  if (!out.write(text)) await once(out, "drain");
}
