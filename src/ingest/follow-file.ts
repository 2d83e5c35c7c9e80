// `import --follow`: tails the apiserver's live audit log across rotations (rename: the inode
// changes; copytruncate: the size shrinks) and restarts. The position (inode + byte offset after
// the last complete line) is saved only after the events before it are durable, so a crash
// re-reads at most one batch, which dedupe absorbs — no loss, no duplicate entries.
import { createHash } from "node:crypto";
import { promises as fsp, type Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import { readFileIfExists, writeFileAtomic } from "../store/durable-file.js";
import { decodeLine, type FileLine } from "./audit-file.js";
import { orderAuditFiles } from "./file-order.js";
import {
  addResult,
  emptySummary,
  importFiles,
  mergeSummary,
  parseLines,
  type ImportSummary,
} from "./import-files.js";
import type { IngestPipeline } from "./pipeline.js";

interface Position {
  path: string;
  dev: number;
  ino: number;
  offset: number;
  /** Lines before `offset`, so rejected lines keep their true numbers across restarts. */
  line?: number;
}

export interface FollowFileOptions {
  /** Where positions are kept: DATA/follow. */
  stateDir: string;
  pollMs?: number;
  batchSize?: number;
  /** Told after each durable batch (and about rotations), for logs and metrics. */
  onProgress?: (summary: ImportSummary, note?: string) => void;
  /** Told when a damaged position file was discarded. */
  onRepair?: (message: string) => void;
  signal?: AbortSignal;
}

const READ_CHUNK = 1024 * 1024;

export function positionFile(stateDir: string, file: string): string {
  const id = createHash("sha256").update(path.resolve(file)).digest("hex").slice(0, 16);
  return path.join(stateDir, `${id}.json`);
}

/**
 * The saved position, or undefined when there is none. The file is derived: a damaged one is
 * reported through `onRepair` and treated as absent, so the live file is read from the start
 * and dedupe drops what was stored already.
 */
async function loadPosition(
  file: string,
  onRepair?: (message: string) => void,
): Promise<Position | undefined> {
  const text = await readFileIfExists(file);
  if (text === null) return undefined;
  let p: Partial<Position> | undefined;
  try {
    p = JSON.parse(text.toString("utf8")) as Partial<Position>;
  } catch {
    p = undefined;
  }
  const count = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
  if (
    p !== undefined &&
    p !== null &&
    typeof p.path === "string" &&
    count(p.dev) &&
    count(p.ino) &&
    count(p.offset) &&
    (p.line === undefined || count(p.line))
  )
    return p as Position;
  onRepair?.(
    `${file}: not a follow position (${JSON.stringify(text.toString("utf8").slice(0, 60))}); ` +
      "reading the followed file from the beginning (events already stored are dropped as duplicates)",
  );
  return undefined;
}

async function statOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await fsp.stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Rotated siblings of `file` (NAME-<time>.EXT[.gz]) — where a file renamed while we were down went. */
async function rotatedSiblings(file: string): Promise<string[]> {
  const dir = path.dirname(file);
  const ext = path.extname(file);
  const stem = path.basename(file, ext);
  const names = await fsp.readdir(dir);
  return names
    .filter((n) => n !== path.basename(file) && n.startsWith(`${stem}-`))
    .map((n) => path.join(dir, n));
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });

/** Follows `file` until `signal` aborts; resolves with what was imported. */
export async function followFile(
  file: string,
  pipeline: IngestPipeline,
  opts: FollowFileOptions,
): Promise<ImportSummary> {
  const stateFile = positionFile(opts.stateDir, file);
  await fsp.mkdir(opts.stateDir, { recursive: true });
  const summary = emptySummary();
  const batchSize = opts.batchSize ?? 400;
  const pollMs = opts.pollMs ?? 250;
  let pos = await loadPosition(stateFile, opts.onRepair);
  let fh: FileHandle | undefined;
  let lineNo = 0;

  const save = async (p: Position): Promise<void> => {
    await writeFileAtomic(stateFile, JSON.stringify(p) + "\n", 0o600);
  };

  // Reads complete lines from the open file from pos.offset; an incomplete last line waits.
  const drain = async (): Promise<void> => {
    if (!fh || !pos) return;
    let pending = Buffer.alloc(0);
    let offset = pos.offset;
    for (;;) {
      const buf = Buffer.alloc(READ_CHUNK);
      const { bytesRead } = await fh.read(buf, 0, READ_CHUNK, offset + pending.length);
      if (bytesRead === 0) break;
      pending = Buffer.concat([pending, buf.subarray(0, bytesRead)]);
      let consumed = 0;
      const lines: FileLine[] = [];
      for (let nl = pending.indexOf(0x0a); nl !== -1; nl = pending.indexOf(0x0a, consumed)) {
        const l = decodeLine(pending.subarray(consumed, nl), ++lineNo);
        if (l) lines.push(l);
        consumed = nl + 1;
        if (lines.length >= batchSize) {
          await ingestLines(lines.splice(0), offset + consumed);
        }
      }
      await ingestLines(lines, offset + consumed);
      offset += consumed;
      pending = pending.subarray(consumed);
    }
  };

  const ingestLines = async (lines: FileLine[], endOffset: number): Promise<void> => {
    if (!pos) return;
    if (lines.length > 0) {
      const { events, entries } = parseLines(file, lines, summary);
      if (events.length > 0) addResult(summary, await pipeline.ingest(events, entries));
    }
    if (endOffset !== pos.offset) {
      pos = { ...pos, offset: endOffset, line: lineNo };
      await save(pos); // only now: the lines before endOffset are durable
      opts.onProgress?.(summary);
    }
  };

  const openCurrent = async (st: Stats, offset: number, line = 0): Promise<void> => {
    await fh?.close();
    fh = await fsp.open(file, "r");
    const opened = await fh.stat();
    if (opened.ino !== st.ino) return openCurrent(opened, 0); // rotated between stat and open
    pos = { path: path.resolve(file), dev: opened.dev, ino: opened.ino, offset, line };
    lineNo = line;
    summary.files++;
    await save(pos);
  };

  // On start: if the remembered inode is no longer at the path, finish it under its rotated name.
  const st0 = await statOrUndefined(file);
  if (pos && st0 && st0.ino !== pos.ino) {
    const remembered = pos;
    let finished = false;
    for (const sibling of await orderAuditFiles(await rotatedSiblings(file))) {
      const s = await statOrUndefined(sibling);
      if (s && s.ino === remembered.ino && s.dev === remembered.dev) {
        fh = await fsp.open(sibling, "r");
        lineNo = remembered.line ?? 0;
        await drain();
        await fh.close();
        fh = undefined;
        finished = true;
      } else if (s && finished) {
        // Rotated after the remembered one: import whole (dedupe absorbs any overlap).
        mergeSummary(summary, await importFiles([sibling], pipeline, { batchSize }));
      }
    }
    opts.onProgress?.(
      summary,
      finished
        ? "finished the file rotated while stopped"
        : "remembered file not found; starting the live file from the beginning",
    );
    pos = undefined;
  }

  while (!opts.signal?.aborted) {
    const st = await statOrUndefined(file);
    if (st === undefined) {
      await sleep(pollMs, opts.signal);
      continue;
    }
    if (!fh) {
      const resume = pos && pos.ino === st.ino && pos.offset <= st.size;
      await openCurrent(st, resume ? pos!.offset : 0, resume ? (pos!.line ?? 0) : 0);
    } else if (pos && st.ino !== pos.ino) {
      await drain(); // the rest of the renamed file, through the handle we still hold
      opts.onProgress?.(summary, "rotated");
      await openCurrent(st, 0);
    } else if (pos && st.size < pos.offset) {
      opts.onProgress?.(summary, "truncated");
      pos = { ...pos, offset: 0, line: 0 };
      lineNo = 0;
      await save(pos);
    }
    await drain();
    await sleep(pollMs, opts.signal);
  }
  await fh?.close();
  return summary;
}
