// Baseline: the usual do-it-yourself tamper-evident log — a PostgreSQL table whose BEFORE INSERT
// trigger chains each row to the previous one: hash = SHA-256(prev_hash ‖ event text).
// The server is Debian's PostgreSQL, started here in a temporary directory on a Unix socket
// (no TCP port to collide with), as the postgres user because it refuses to run as root.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { log, removeTemp, tempDir } from "../harness.js";

export class PostgresUnavailable extends Error {
  readonly code = "postgres-unavailable";
  constructor(message: string) {
    super(message);
    this.name = "PostgresUnavailable";
  }
}

export interface PgServer {
  /** Socket directory: pass as `host` to pg clients. */
  socketDir: string;
  port: number;
  /** The postmaster pid, for CPU and RSS accounting of the whole server. */
  pid(): number;
  pool(max: number): pg.Pool;
  client(): Promise<pg.Client>;
  stop(): Promise<void>;
}

/** The newest installed server's bin directory, e.g. /usr/lib/postgresql/15/bin. */
export function findPostgresBin(): string {
  // `npm run bench -- --no-pg` passes the flag to every bench: each then skips its PostgreSQL rows.
  if (process.argv.includes("--no-pg")) throw new PostgresUnavailable("--no-pg");
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root).filter((v) => existsSync(path.join(root, v, "bin", "postgres")))
    : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0)
    throw new PostgresUnavailable(`no PostgreSQL server under ${root}; run scripts/system-deps.sh`);
  return path.join(root, versions[0] as string, "bin");
}

/**
 * initdb + pg_ctl start in a fresh temporary directory. fsync and synchronous_commit stay at
 * their safe defaults: a committed row is on disk, as an acknowledged kubetrail entry is.
 */
export async function startPostgres(): Promise<PgServer> {
  const bin = findPostgresBin();
  const asRoot = process.getuid?.() === 0;
  const dir = tempDir("pg");
  const data = path.join(dir, "data");
  const port = 5432; // only names the socket file; listen_addresses='' opens no TCP port
  let owner: { uid: number; gid: number } | undefined;
  if (asRoot) {
    owner = {
      uid: Number(execFileSync("id", ["-u", "postgres"]).toString()),
      gid: Number(execFileSync("id", ["-g", "postgres"]).toString()),
    };
    chownSync(dir, owner.uid, owner.gid);
  }
  chmodSync(dir, 0o700);
  const run = (cmd: string, args: string[]): void => {
    const full = path.join(bin, cmd);
    const r = asRoot
      ? spawnSync("runuser", ["-u", "postgres", "--", full, ...args], { encoding: "utf8" })
      : spawnSync(full, args, { encoding: "utf8" });
    if (r.status !== 0)
      throw new PostgresUnavailable(
        `${cmd} failed (exit ${r.status}): ${(r.stderr || r.stdout || String(r.error)).trim()}`,
      );
  };
  run("initdb", [
    "-D",
    data,
    "-U",
    "postgres",
    "--auth=trust",
    "--no-instructions",
    "-E",
    "UTF8",
    "--locale=C",
  ]);
  writeFileSync(
    path.join(data, "postgresql.auto.conf"),
    [
      `listen_addresses = ''`,
      `unix_socket_directories = '${dir}'`,
      `port = ${port}`,
      `max_wal_size = '2GB'`,
      `shared_buffers = '256MB'`,
      "",
    ].join("\n"),
  );
  run("pg_ctl", ["-D", data, "-l", path.join(dir, "server.log"), "-w", "-t", "60", "start"]);
  log(`postgres started in ${dir}`);
  const pid = (): number => Number(readFileSync(path.join(data, "postmaster.pid"), "utf8").split("\n")[0]);
  const conn = { host: dir, port, user: "postgres", database: "postgres" };
  return {
    socketDir: dir,
    port,
    pid,
    pool: (max) => new pg.Pool({ ...conn, max }),
    async client() {
      const c = new pg.Client(conn);
      await c.connect();
      return c;
    },
    async stop() {
      try {
        run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
      } finally {
        removeTemp(dir);
      }
    },
  };
}

/**
 * The hash-chained table. The head row, locked FOR UPDATE, serialises concurrent inserts so
 * the chain has one order; each row stores its predecessor's hash and its own.
 */
export const CHAIN_SCHEMA = `
CREATE TABLE audit_events (
  id        bigint PRIMARY KEY,
  event     jsonb  NOT NULL,
  prev_hash bytea  NOT NULL,
  hash      bytea  NOT NULL
);
CREATE TABLE audit_chain_head (one boolean PRIMARY KEY DEFAULT true CHECK (one), last_id bigint NOT NULL, last_hash bytea NOT NULL);
INSERT INTO audit_chain_head VALUES (true, 0, '\\x'::bytea);
CREATE FUNCTION audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE h audit_chain_head%ROWTYPE;
BEGIN
  SELECT * INTO h FROM audit_chain_head WHERE one FOR UPDATE;
  NEW.id := h.last_id + 1;
  NEW.prev_hash := h.last_hash;
  NEW.hash := sha256(h.last_hash || convert_to(NEW.event::text, 'UTF8'));
  UPDATE audit_chain_head SET last_id = NEW.id, last_hash = NEW.hash WHERE one;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_chain BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_chain();
`;

export async function createChainTable(db: pg.Pool | pg.Client): Promise<void> {
  await db.query(CHAIN_SCHEMA);
}

/** Inserts a batch in one statement (one transaction, one WAL flush at commit). */
export async function insertBatch(db: pg.Pool | pg.Client, lines: readonly string[]): Promise<void> {
  const params = lines.map((_, i) => `(0, $${i + 1}::jsonb, '', '')`).join(",");
  await db.query(`INSERT INTO audit_events (id, event, prev_hash, hash) VALUES ${params}`, lines as string[]);
}

/**
 * Re-walks the whole chain inside the server: every row's hash must equal SHA-256(prev ‖ event)
 * and every prev_hash must equal the previous row's hash. Returns rows checked and rows broken.
 */
export async function verifyChain(db: pg.Pool | pg.Client): Promise<{ rows: number; broken: number }> {
  const r = await db.query<{ rows: string; broken: string }>(`
    SELECT count(*) AS rows,
           count(*) FILTER (WHERE hash <> sha256(prev_hash || convert_to(event::text, 'UTF8'))
                            OR prev_hash <> coalesce(prev_row_hash, '\\x'::bytea)) AS broken
    FROM (SELECT event, prev_hash, hash, lag(hash) OVER (ORDER BY id) AS prev_row_hash FROM audit_events) t`);
  const row = r.rows[0];
  return { rows: Number(row?.rows ?? 0), broken: Number(row?.broken ?? 0) };
}
