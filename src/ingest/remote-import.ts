// Backfill into a running server: the log backend's lines are posted as EventList batches to
// the authenticated webhook API, so they go through the server's own pipeline (policy,
// redaction, dedupe, detection) while it keeps serving. Each line is sent as the apiserver's
// webhook would have sent it (its TypeMeta moved to the list), so the server stores the same
// bytes either way and an event already delivered by the webhook is a duplicate, not a
// conflict. Progress is kept in an ImportState; a rerun skips what the server acknowledged.
import { EVENT_TYPE_META } from "./sent-bytes.js";
import { readAuditFileLines } from "./audit-file.js";
import { IngestError, type RemoteImportErrorCode } from "./errors.js";
import { emptySummary, MAX_REJECTED_LISTED, type ImportSummary } from "./import-files.js";
import { fileIdentity, type ImportState } from "./import-state.js";
import { receiveEventLine } from "./normalize.js";

export interface PostReply {
  status: number;
  body: string;
  /** Seconds, from a Retry-After header. */
  retryAfterS?: number;
}

/** POSTs one EventList body to the server's webhook; rejects only when no reply came. */
export type PostBatch = (body: Buffer) => Promise<PostReply>;

export class RemoteImportError extends IngestError {
  constructor(code: RemoteImportErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export interface RemoteImportOptions {
  /** Events per POST at most. */
  batchSize: number;
  /** Body bytes per POST at most (one larger event still goes alone). */
  maxBatchBytes: number;
  state: ImportState;
  /** How long to keep retrying a server that is unavailable or busy before giving up. */
  retryForMs: number;
  onBytes?: (n: number) => void;
  /** Human-readable progress notes (resuming, retrying). */
  onNote?: (msg: string) => void;
  /** Checked between batches: true stops after the batch in flight (progress is kept). */
  stopRequested?: () => boolean;
  sleep?: (ms: number) => Promise<void>;
}

export interface RemoteImportSummary extends ImportSummary {
  /** Lines skipped because an earlier run had them acknowledged. */
  resumedLines: number;
  /** Stopped on request before the end. */
  interrupted: boolean;
}

interface Item {
  line: number;
  text: string;
}

const LIST_HEAD = Buffer.from('{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[');
const LIST_TAIL = Buffer.from("]}");

/** A log line as a webhook item: the apiserver's items carry no TypeMeta of their own. */
export function webhookItem(line: string): string {
  return line.startsWith(EVENT_TYPE_META) ? `{${line.slice(EVENT_TYPE_META.length)}` : line;
}

function eventListBody(items: Item[]): Buffer {
  const parts: Buffer[] = [LIST_HEAD];
  items.forEach((it, i) => {
    if (i > 0) parts.push(Buffer.from(","));
    parts.push(Buffer.from(webhookItem(it.text), "utf8"));
  });
  parts.push(LIST_TAIL);
  return Buffer.concat(parts);
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Statuses that mean "this batch holds something the server will not take". */
const BAD_INPUT = new Set([400, 413, 415, 422]);

export async function importToServer(
  files: readonly string[],
  post: PostBatch,
  opts: RemoteImportOptions,
): Promise<RemoteImportSummary> {
  const summary: RemoteImportSummary = { ...emptySummary(), resumedLines: 0, interrupted: false };
  const sleep = opts.sleep ?? defaultSleep;
  const reject = (file: string, line: number, reason: string) => {
    summary.rejectedCount++;
    if (summary.rejected.length < MAX_REJECTED_LISTED) summary.rejected.push({ file, line, reason });
  };

  /** One POST, retried while the server is unreachable, busy or unavailable. */
  const postWithRetry = async (body: Buffer): Promise<PostReply> => {
    const started = Date.now();
    let delay = 500;
    for (let attempt = 1; ; attempt++) {
      let reply: PostReply | undefined;
      let failure: string;
      try {
        reply = await post(body);
        if (reply.status !== 429 && reply.status < 500) return reply;
        failure = `answered ${reply.status}${reply.body ? `: ${reply.body.trim().slice(0, 200)}` : ""}`;
      } catch (err) {
        failure = `unreachable (${(err as Error).message})`;
      }
      if (Date.now() - started >= opts.retryForMs) {
        throw new RemoteImportError(
          "unavailable",
          `the server is ${failure}; gave up after ${Math.round((Date.now() - started) / 1000)} s (${attempt} tries). Progress is kept: run the same command again to resume`,
        );
      }
      const wait = reply?.retryAfterS !== undefined ? reply.retryAfterS * 1000 : delay;
      opts.onNote?.(`server ${failure}; retrying in ${(wait / 1000).toFixed(1)} s`);
      await sleep(wait);
      delay = Math.min(delay * 2, 10_000);
    }
  };

  /** Sends items; a batch the server refuses as bad input is split until the bad lines are found. */
  const send = async (file: string, items: Item[]): Promise<void> => {
    const reply = await postWithRetry(eventListBody(items));
    if (reply.status === 200) {
      let counts: { received?: unknown; stored?: unknown; duplicates?: unknown };
      try {
        counts = JSON.parse(reply.body) as typeof counts;
      } catch (err) {
        throw new RemoteImportError(
          "protocol",
          `the server's 200 reply is not JSON: ${reply.body.slice(0, 200)}`,
          {
            cause: err,
          },
        );
      }
      const n = (v: unknown) => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : 0);
      summary.stored += n(counts.stored);
      summary.duplicates += n(counts.duplicates);
      summary.dropped += Math.max(0, n(counts.received) - n(counts.stored) - n(counts.duplicates));
      return;
    }
    if (reply.status === 401 || reply.status === 403) {
      throw new RemoteImportError(
        "refused",
        `the server refused the credential (${reply.status}${reply.body ? `: ${reply.body.trim().slice(0, 200)}` : ""}); give an ingest token (--token-file) or a client certificate it accepts`,
      );
    }
    if (BAD_INPUT.has(reply.status)) {
      if (items.length === 1) {
        reject(
          file,
          items[0]!.line,
          `the server refused it (${reply.status}): ${reply.body.trim().slice(0, 300)}`,
        );
        return;
      }
      const half = Math.ceil(items.length / 2);
      await send(file, items.slice(0, half));
      await send(file, items.slice(half));
      return;
    }
    throw new RemoteImportError(
      "protocol",
      `the server answered ${reply.status}: ${reply.body.trim().slice(0, 300)}`,
    );
  };

  for (const file of files) {
    if (summary.interrupted) break;
    summary.files++;
    let identity: string | undefined;
    let done = 0;
    let batch: Item[] = [];
    let batchBytes = 0;
    /** The last line read (sent or rejected): progress once the batch is acknowledged. */
    let lastLine = 0;
    const flush = async () => {
      if (batch.length > 0) await send(file, batch);
      batch = [];
      batchBytes = 0;
      if (identity !== undefined && lastLine > done) {
        opts.state.record(identity, file, lastLine);
        await opts.state.save();
      }
    };
    for await (const l of readAuditFileLines(file, opts.onBytes)) {
      if (identity === undefined) {
        identity = fileIdentity(l.bytes ?? l.text);
        done = opts.state.linesDone(identity);
        if (done > 0)
          opts.onNote?.(`${file}: resuming after line ${done} (acknowledged by the server before)`);
      }
      if (l.line <= done) {
        summary.resumedLines++;
        continue;
      }
      summary.read++;
      lastLine = l.line;
      try {
        if (l.badEncoding) throw new IngestError("bad_encoding", "line is not valid UTF-8");
        // The server would refuse the whole batch for one bad line: it is caught here, named.
        receiveEventLine(l.text, `${file}:${l.line}`);
      } catch (err) {
        if (!(err instanceof IngestError)) throw err;
        const where = `${file}:${l.line}: `;
        reject(file, l.line, err.message.startsWith(where) ? err.message.slice(where.length) : err.message);
        continue;
      }
      const size = Buffer.byteLength(l.text) + 1;
      if (batch.length > 0 && (batch.length >= opts.batchSize || batchBytes + size > opts.maxBatchBytes)) {
        // The new line is not in this batch: progress stops before it.
        const next = lastLine;
        lastLine = l.line - 1;
        await flush();
        lastLine = next;
        if (opts.stopRequested?.()) {
          summary.interrupted = true;
          break;
        }
      }
      batch.push({ line: l.line, text: l.text });
      batchBytes += size;
    }
    if (!summary.interrupted) await flush();
  }
  return summary;
}
