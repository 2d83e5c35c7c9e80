// The newest checkpoint this client has verified for each log, kept between runs, so that a
// server showing an older or different tree later (a rollback, a fork, a rewritten history)
// is caught with a consistency proof instead of being believed. The files hold only public
// data (signed checkpoint notes).
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TrustedCheckpoint } from "./source.js";

export interface SeenCheckpoints {
  /** The stored note for the log of this verifier key, unverified (the caller checks it). */
  load(verifierKey: string): string | undefined;
  /** Records `cp` as the newest verified checkpoint of the log. */
  save(verifierKey: string, cp: TrustedCheckpoint): void;
}

/** `$XDG_STATE_HOME/kubetrail/checkpoints`, or `~/.local/state/kubetrail/checkpoints`. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env["XDG_STATE_HOME"] || path.join(os.homedir(), ".local", "state");
  return path.join(base, "kubetrail", "checkpoints");
}

function fileFor(dir: string, verifierKey: string): string {
  return path.join(dir, `${createHash("sha256").update(verifierKey).digest("hex").slice(0, 32)}.checkpoint`);
}

/**
 * Checkpoints in files under `dir`. Failing to write is not an error (a read-only home must not
 * stop a query); the next run then checks against the older checkpoint it still has.
 */
export function fileSeenCheckpoints(dir: string = defaultStateDir()): SeenCheckpoints {
  return {
    load(verifierKey) {
      try {
        return readFileSync(fileFor(dir, verifierKey), "utf8");
      } catch {
        return undefined;
      }
    },
    save(verifierKey, cp) {
      const file = fileFor(dir, verifierKey);
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, cp.note, { mode: 0o644 });
        renameSync(tmp, file);
      } catch {
        // Best effort, see above.
      }
    },
  };
}
