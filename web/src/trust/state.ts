// Where the page's trust comes from: the latest checkpoint, verified against the pinned key
// (or, with a warning, the key the server offers), and proven to extend the last checkpoint
// this browser verified. Every proof the page checks is against this checkpoint.
import { useEffect, useState } from "preact/hooks";
import { getJson } from "../api.js";
import { encodeBase64 } from "../../../src/tlog/base64.js";
import {
  claimedCheckpoint,
  provesGrowth,
  TrustError,
  verifyCheckpoint,
  type Checkpoint,
} from "./checkpoint.js";
import { pinnedKey, rememberCheckpoint, seenCheckpoint, type SeenCheckpoint } from "./pin.js";

/** What /ui/api/log says about the log: public, and trusted only once verified here. */
export interface LogInfo {
  origin: string;
  checkpoint: string;
  verifierKey: string;
  /** When the server wrote its latest checkpoint (its clock; not part of what is signed). */
  checkpointWrittenAt?: string;
}

export interface Trust {
  state: "checking" | "verified" | "failed";
  /** The checkpoint proofs are checked against: verified, or (when failed) only claimed. */
  checkpoint?: Checkpoint;
  rootHash?: string;
  note?: string;
  info?: LogInfo;
  /** The key the checkpoint was verified with; undefined when none was usable. */
  usedKey?: string;
  pinned?: string;
  /** The server offers a key other than the pinned one. */
  keyChanged: boolean;
  /** Why trust was refused. */
  error?: string;
  /** The earlier checkpoint this one was proven to extend. */
  extends?: SeenCheckpoint;
  checkedAt?: number;
}

let trust: Trust = { state: "checking", keyChanged: false };
const listeners = new Set<(t: Trust) => void>();

function set(t: Trust): void {
  trust = t;
  listeners.forEach((l) => l(t));
}

export function currentTrust(): Trust {
  return trust;
}

export function useTrust(): Trust {
  const [t, setT] = useState(trust);
  useEffect(() => {
    listeners.add(setT);
    setT(trust);
    return () => void listeners.delete(setT);
  }, []);
  return t;
}

interface ConsistencyAnswer {
  consistencyProof: string[];
}

/** Fetches and verifies the latest checkpoint; the page re-renders from the new Trust. */
export async function establishTrust(): Promise<Trust> {
  set({ ...trust, state: "checking" });
  let info: LogInfo;
  try {
    info = await getJson<LogInfo>("/ui/api/log");
  } catch (err) {
    set({
      state: "failed",
      keyChanged: false,
      error: `cannot read the checkpoint: ${(err as Error).message}`,
    });
    return trust;
  }
  const pinned = pinnedKey();
  const usedKey = pinned ?? info.verifierKey;
  const base = {
    info,
    note: info.checkpoint,
    pinned,
    usedKey,
    keyChanged: pinned !== undefined && pinned !== info.verifierKey.trim(),
    checkedAt: Date.now(),
  };
  let cp: Checkpoint;
  try {
    cp = await verifyCheckpoint(info.checkpoint, usedKey);
  } catch (err) {
    const claimed = claimedCheckpoint(info.checkpoint);
    set({
      ...base,
      state: "failed",
      ...(claimed ? { checkpoint: claimed, rootHash: encodeBase64(claimed.rootHash) } : {}),
      error: err instanceof TrustError ? err.message : String(err),
    });
    return trust;
  }
  const rootHash = encodeBase64(cp.rootHash);
  const seen = seenCheckpoint(cp.origin);
  if (seen !== undefined && !(seen.size === cp.size && seen.rootHash === rootHash)) {
    const problem = await growthProblem(seen, cp);
    if (problem !== undefined) {
      set({ ...base, state: "failed", checkpoint: cp, rootHash, error: problem });
      return trust;
    }
  }
  rememberCheckpoint(cp.origin, { size: cp.size, rootHash, at: new Date().toISOString() });
  set({ ...base, state: "verified", checkpoint: cp, rootHash, ...(seen ? { extends: seen } : {}) });
  return trust;
}

/** Why `cp` does not extend the checkpoint this browser saw before, or undefined when it does. */
async function growthProblem(seen: SeenCheckpoint, cp: Checkpoint): Promise<string | undefined> {
  const before = `the checkpoint of size ${seen.size} this browser verified on ${seen.at}`;
  if (cp.size < seen.size) return `the log shrank: its checkpoint has size ${cp.size}, but ${before}`;
  if (cp.size === seen.size)
    return `the log was rewritten: same size ${cp.size} but another root than ${before}`;
  try {
    const answer = await getJson<ConsistencyAnswer>("/v1/proof/consistency", {
      from: seen.size,
      to: cp.size,
    });
    if (provesGrowth(seen, cp, answer.consistencyProof)) return undefined;
  } catch (err) {
    return `cannot prove the log only grew since ${before}: ${(err as Error).message}`;
  }
  return `the log was rewritten: the checkpoint of size ${cp.size} does not extend ${before} (consistency proof fails)`;
}
