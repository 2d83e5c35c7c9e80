// Reads audit events from files for offline detection: the apiserver's log backend (one JSON
// event per line, possibly huge, so streamed) or a saved webhook body (an EventList, pretty
// printed or on one line).
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { isRecord } from "../json/record.js";
import { DetectError } from "./types.js";

export interface FileEvent {
  value: Record<string, unknown>;
  file: string;
  line: number;
}

export async function* readEventFile(file: string): AsyncGenerator<FileEvent> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let line = 0;
  let first = true;
  try {
    for await (const text of lines) {
      line++;
      if (text.trim() === "") continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        if (first) {
          // Not JSON lines: the whole file is one JSON document (a pretty-printed EventList).
          lines.close();
          yield* wholeDocument(file);
          return;
        }
        throw new DetectError("events", `${file}:${line}: not JSON: ${(err as Error).message}`);
      }
      first = false;
      yield* eventsOf(parsed, file, line);
    }
  } catch (err) {
    if (err instanceof DetectError) throw err;
    throw new DetectError("events", `${file}: ${(err as Error).message}`, { cause: err });
  }
}

async function* wholeDocument(file: string): AsyncGenerator<FileEvent> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new DetectError(
      "events",
      `${file}: neither JSON lines nor a JSON EventList: ${(err as Error).message}`,
      { cause: err },
    );
  }
  yield* eventsOf(parsed, file, 1);
}

function* eventsOf(parsed: unknown, file: string, line: number): Generator<FileEvent> {
  if (!isRecord(parsed)) throw new DetectError("events", `${file}:${line}: expected a JSON object`);
  if (parsed.kind === "EventList") {
    if (!Array.isArray(parsed.items))
      throw new DetectError("events", `${file}:${line}: EventList without items`);
    for (const [i, item] of parsed.items.entries()) {
      if (!isRecord(item)) throw new DetectError("events", `${file}:${line}: items[${i}] is not an object`);
      yield { value: item, file, line };
    }
    return;
  }
  yield { value: parsed, file, line };
}
