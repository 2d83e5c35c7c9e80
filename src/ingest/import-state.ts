// Where a backfill into a running server got to, so an interrupted `import --server` resumes
// instead of starting over. A file is known by its first line (an audit event with its own
// auditID), not by its name: the apiserver renames audit.log when it rotates it. Losing this
// file only costs re-sending: the server's dedupe drops what it already has.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "../store/durable-file.js";
import { isRecord } from "../json/record.js";

export interface FileProgress {
  /** The last path it was read from (for messages). */
  path: string;
  /** Lines (1-based numbers up to this one) the server has acknowledged. */
  lines: number;
}

const VERSION = 1;

/** A file's identity: SHA-256 of its first line's bytes. */
export function fileIdentity(firstLine: Uint8Array | string): string {
  return createHash("sha256").update(firstLine).digest("hex");
}

export class ImportState {
  private constructor(
    readonly file: string,
    readonly server: string,
    private readonly files: Map<string, FileProgress>,
  ) {}

  /**
   * Reads the state for `server` from `file`; a missing file is a fresh start. A file that
   * is damaged or was made for another server is not trusted: a fresh start too, with the
   * reason told to `warn` (re-sending is harmless).
   */
  static async open(file: string, server: string, warn: (msg: string) => void): Promise<ImportState> {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return new ImportState(file, server, new Map());
      throw err;
    }
    const files = new Map<string, FileProgress>();
    try {
      const raw = JSON.parse(text) as unknown;
      if (!isRecord(raw) || raw.version !== VERSION || !isRecord(raw.files))
        throw new Error("unknown format");
      if (raw.server !== server) {
        warn(`${file} is the progress of an import into ${String(raw.server)}, not ${server}: starting over`);
        return new ImportState(file, server, files);
      }
      for (const [id, p] of Object.entries(raw.files)) {
        if (
          isRecord(p) &&
          typeof p.path === "string" &&
          Number.isSafeInteger(p.lines) &&
          (p.lines as number) >= 0
        )
          files.set(id, { path: p.path, lines: p.lines as number });
      }
    } catch (err) {
      warn(`${file}: ${(err as Error).message}; starting over (the server drops what it already has)`);
      files.clear();
    }
    return new ImportState(file, server, files);
  }

  /** Lines of the file with this identity already acknowledged (0 if unknown). */
  linesDone(identity: string): number {
    return this.files.get(identity)?.lines ?? 0;
  }

  record(identity: string, path: string, lines: number): void {
    this.files.set(identity, { path, lines });
  }

  async save(): Promise<void> {
    const files = Object.fromEntries(this.files);
    await writeFileAtomic(
      this.file,
      JSON.stringify({ version: VERSION, server: this.server, files }) + "\n",
      0o600,
    );
  }
}
