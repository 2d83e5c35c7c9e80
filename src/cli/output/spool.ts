// Records too many to hold, kept on disk until they are written out: one JSON line each in a
// temporary file, read back as many times as the output needs (a table sizes its columns on a
// first pass). The file is unlinked as soon as it is open, so it is private to the process and
// gone however the process ends (`| head`, Ctrl-C, kill -9): what it holds is audit data.
import {
  closeSync,
  createReadStream,
  mkdtempSync,
  openSync,
  rmdirSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";

/** Bytes gathered before a write to the file. */
const FLUSH_BYTES = 1 << 20;

function openAnonymous(): number {
  const dir = mkdtempSync(path.join(tmpdir(), "kubetrail-spool-"));
  const file = path.join(dir, "records.jsonl");
  try {
    return openSync(file, "wx+", 0o600);
  } finally {
    unlinkSync(file);
    rmdirSync(dir);
  }
}

export class JsonLineSpool<T> {
  private readonly fd = openAnonymous();
  private pending: string[] = [];
  private pendingBytes = 0;
  private closed = false;
  count = 0;

  add(record: T): void {
    const line = JSON.stringify(record) + "\n";
    this.pending.push(line);
    this.pendingBytes += line.length;
    this.count++;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
  }

  /** The records in the order added; may be read again. */
  async *read(): AsyncGenerator<T> {
    this.flush();
    // From offset 0 by positioned reads, which leave the descriptor as it is for another pass.
    const input = createReadStream("", { fd: this.fd, start: 0, autoClose: false });
    const lines = createInterface({ input, crlfDelay: Infinity });
    for await (const line of lines) yield JSON.parse(line) as T;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const buf = Buffer.from(this.pending.join(""), "utf8");
    for (let off = 0; off < buf.length;) off += writeSync(this.fd, buf, off);
    this.pending = [];
    this.pendingBytes = 0;
  }
}
