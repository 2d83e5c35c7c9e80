// One writer per data directory. A second `serve` or `append` on the same directory would
// interleave bundle writes, so the second one is refused while the first is alive.
//
// The lock is the kernel's, so it dies with its holder whatever way that ends (kill -9, OOM,
// power loss): an exclusive POSIX record lock (fcntl) on DATA/LOCK, taken through SQLite, whose
// unix VFS is the one well-kept fcntl binding Node has here (better-sqlite3; Node itself has
// neither flock nor fcntl). A PID file would have to guess whether its PID still means the
// holder; a lock the kernel drops cannot be stale. DATA/LOCK stays an empty file: SQLite reads
// an empty file as an empty database and writes nothing while the transaction holds the lock.
//
// POSIX locks belong to the process, and closing any descriptor of the file in that process
// drops them: nothing in the holding process may open DATA/LOCK except through this module.
//
// Who holds it: the kernel's /proc/locks names the holder's pid (its command and start time
// come from /proc/<pid>); DATA/LOCK.holder, written by the holder, names it when /proc cannot
// (another PID namespace or host). Neither is trusted to decide anything.
import { readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import os from "node:os";
import Database from "better-sqlite3";
import { LogError } from "./types.js";

export interface DirLock {
  release(): Promise<void>;
}

/** Who holds a lock, as far as this host can tell. */
export interface LockHolder {
  pid?: number;
  command?: string;
  /** When the holder took the lock (its record) or started (from /proc). */
  since?: string;
  host?: string;
  /** "kernel": pid from /proc/locks; "record": what the holder wrote in LOCK.holder. */
  source: "kernel" | "record";
}

/** Locks held by this process: POSIX locks never conflict within one process. */
const heldHere = new Set<string>();

function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** Opens `file` and takes the exclusive lock, or returns undefined when another process holds it. */
function tryLock(file: string): Database.Database | undefined {
  // timeout 0: a held lock is an immediate SQLITE_BUSY, not a wait.
  const db = new Database(file, { timeout: 0 });
  try {
    // The rollback journal in memory: nothing is ever written, and BEGIN EXCLUSIVE would
    // otherwise create DATA/LOCK-journal, which a kill leaves behind.
    db.pragma("journal_mode = MEMORY");
    db.exec("BEGIN EXCLUSIVE");
    return db;
  } catch (err) {
    db.close();
    if (sqliteCode(err) === "SQLITE_BUSY") return undefined;
    throw err;
  }
}

/**
 * Takes the writer's lock on `file` (DATA/LOCK). Refuses with LogError("locked") naming the
 * holder while another process (or this one) holds it; a lock whose holder died is free.
 */
export async function acquireLock(file: string): Promise<DirLock> {
  if (heldHere.has(file)) throw new LogError("locked", `${file}: the log is already open in this process`);
  let db: Database.Database | undefined;
  try {
    db = tryLock(file);
  } catch (err) {
    const code = sqliteCode(err);
    if (code !== "SQLITE_NOTADB" && code !== "SQLITE_CORRUPT")
      throw new LogError("io", `${file}: cannot take the writer's lock: ${(err as Error).message}`);
    // The PID file of an older kubetrail, or junk: a lock this module holds is always empty,
    // so emptying a non-empty file takes nothing from a live holder.
    truncateSync(file, 0);
    db = tryLock(file);
  }
  if (db === undefined) throw new LogError("locked", refusal(file, lockHolder(file)));
  const locked = db;
  heldHere.add(file);
  const record = `${file}.holder`;
  try {
    writeFileSync(
      record,
      JSON.stringify({
        pid: process.pid,
        host: os.hostname(),
        command: process.argv.join(" "),
        since: new Date().toISOString(),
      }) + "\n",
    );
  } catch {
    // Only a courtesy for whoever is refused next; the lock itself is held.
  }
  return {
    release: async () => {
      if (!heldHere.has(file)) return;
      rmSync(record, { force: true });
      heldHere.delete(file);
      locked.close(); // ends the transaction: the kernel drops the lock with the descriptor
    },
  };
}

function refusal(file: string, holder: LockHolder | undefined): string {
  if (holder === undefined)
    return `${file}: the log is open for writing by another process (which one cannot be seen from here)`;
  const parts: string[] = [];
  if (holder.pid !== undefined) parts.push(`process ${holder.pid}`);
  if (holder.host !== undefined && holder.host !== os.hostname()) parts.push(`on host ${holder.host}`);
  if (holder.command) parts.push(`(${holder.command})`);
  if (holder.since)
    parts.push(holder.source === "kernel" ? `running since ${holder.since}` : `since ${holder.since}`);
  return `${file}: the log is open for writing by ${parts.join(" ")}; stop it first`;
}

/** The holder of the lock on `file`: from the kernel when it can name it, else from the holder's record. */
export function lockHolder(file: string): LockHolder | undefined {
  const pid = kernelHolderPid(file);
  if (pid !== undefined) {
    const proc = processInfo(pid);
    return { pid, source: "kernel", ...proc };
  }
  try {
    const rec = JSON.parse(readFileSync(`${file}.holder`, "utf8")) as Record<string, unknown>;
    return {
      source: "record",
      ...(typeof rec["pid"] === "number" ? { pid: rec["pid"] } : {}),
      ...(typeof rec["host"] === "string" ? { host: rec["host"] } : {}),
      ...(typeof rec["command"] === "string" ? { command: rec["command"] } : {}),
      ...(typeof rec["since"] === "string" ? { since: rec["since"] } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The pid /proc/locks gives for a write lock on the file's inode (0 or absent when not visible). */
function kernelHolderPid(file: string): number | undefined {
  let ino: number;
  let text: string;
  try {
    ino = statSync(file).ino;
    text = readFileSync("/proc/locks", "utf8");
  } catch {
    return undefined;
  }
  // "1: POSIX  ADVISORY  WRITE 14138 fe:00:2170952 1073741824 1073742335"
  for (const line of text.split("\n")) {
    const m = /^\d+:\s+POSIX\s+ADVISORY\s+WRITE\s+(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line);
    if (m && Number(m[2]) === ino && Number(m[1]) > 0) return Number(m[1]);
  }
  return undefined;
}

/** Command line and start time of a local process, when /proc shows them. */
function processInfo(pid: number): { command?: string; since?: string } {
  const out: { command?: string; since?: string } = {};
  try {
    out.command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
  } catch {
    // gone, or not ours to see
  }
  try {
    // Field 22 of /proc/<pid>/stat is the start time in clock ticks after boot; the command
    // (field 2) may hold spaces and parentheses, so fields are counted after its last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    const btime = Number(/^btime\s+(\d+)/m.exec(readFileSync("/proc/stat", "utf8"))?.[1]);
    // USER_HZ is 100 on every Linux ABI Node supports.
    if (Number.isFinite(ticks) && Number.isFinite(btime))
      out.since = new Date((btime + ticks / 100) * 1000).toISOString();
  } catch {
    // as above
  }
  return out;
}
