// What an Ed25519 thread of the witness's pool (ed25519-pool.ts, ed25519-worker.ts) does: lower
// its own scheduling priority, and answer batches of signature checks and signatures, packed
// in one buffer each way, with node:crypto.
import type { Transferable } from "node:worker_threads";
import { createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import os from "node:os";

export interface Ed25519WorkerData {
  /** How many nice levels below the thread that started it this thread runs (0: the same). */
  lower: number;
}

export interface Ed25519Batch {
  id: number;
  /** The jobs, packed by ed25519-pool.ts (packJobs). */
  jobs: Uint8Array;
  /** Signing keys this thread has not been given yet, by the number jobs name them with. */
  keys?: [number, KeyObject][];
}

export type Ed25519BatchReply =
  | {
      id: number;
      /** Per job in order: a verify's 1 (valid) or 0, a sign's 64 signature bytes. */
      out: Uint8Array;
    }
  | { id: number; error: string };

export const VERIFY = 0;
export const SIGN = 1;
/** Bytes of a public key, a signature, and a length or key number in a packed job. */
export const KEY_BYTES = 32;
export const SIG_BYTES = 64;
export const U32 = 4;

/**
 * Sets the calling thread's nice value `lower` levels above its current one (capped at 19). On
 * Linux setpriority(PRIO_PROCESS, 0) acts on the calling thread only, so the event loop and
 * the other threads keep theirs. Returns the nice value in force afterwards.
 */
export function lowerThisThread(lower: number): number {
  const now = os.getPriority(0);
  if (lower <= 0) return now;
  try {
    os.setPriority(0, Math.min(19, now + lower));
  } catch {
    // Not permitted here (a sandbox): the thread keeps the caller's priority.
  }
  return os.getPriority(0);
}

/** Keeps public keys parsed, bounded: a witness checks a few keys per log it serves. */
const MAX_PUBLIC_KEYS = 4096;
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");
const publicKeys = new Map<string, KeyObject>();
const signingKeys = new Map<number, KeyObject>();

function publicKey(raw: Uint8Array): KeyObject {
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("latin1");
  let key = publicKeys.get(id);
  if (key === undefined) {
    if (publicKeys.size >= MAX_PUBLIC_KEYS) publicKeys.clear();
    key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw]), format: "der", type: "spki" });
    publicKeys.set(id, key);
  }
  return key;
}

function checkOne(raw: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  try {
    return verify(null, msg, publicKey(raw), sig);
  } catch {
    return false;
  }
}

/** Runs the packed jobs; throws only for a signing key it was never given. */
export function runJobs(jobs: Uint8Array): { out: Uint8Array; buffer: ArrayBuffer } {
  const view = new DataView(jobs.buffer, jobs.byteOffset, jobs.byteLength);
  const results: Uint8Array[] = [];
  let size = 0;
  for (let at = 0; at < jobs.length;) {
    const kind = jobs[at++];
    if (kind === VERIFY) {
      const raw = jobs.subarray(at, (at += KEY_BYTES));
      const sig = jobs.subarray(at, (at += SIG_BYTES));
      const len = view.getUint32(at);
      at += U32;
      results.push(Uint8Array.of(checkOne(raw, jobs.subarray(at, (at += len)), sig) ? 1 : 0));
      size += 1;
    } else {
      const keyNumber = view.getUint32(at);
      const len = view.getUint32(at + U32);
      at += 2 * U32;
      const key = signingKeys.get(keyNumber);
      if (key === undefined) throw new Error(`signing key ${keyNumber} was not given to this thread`);
      results.push(sign(null, jobs.subarray(at, (at += len)), key));
      size += SIG_BYTES;
    }
  }
  const buffer = new ArrayBuffer(size);
  const out = new Uint8Array(buffer);
  let at = 0;
  for (const r of results) {
    out.set(r, at);
    at += r.length;
  }
  return { out, buffer };
}

/** The reply to a batch (and what to transfer with it); the keys it brings are kept for later batches. */
export function answer({ id, jobs, keys }: Ed25519Batch): {
  reply: Ed25519BatchReply;
  transfer: Transferable[];
} {
  for (const [n, key] of keys ?? []) signingKeys.set(n, key);
  try {
    const { out, buffer } = runJobs(jobs);
    return { reply: { id, out }, transfer: [buffer] };
  } catch (err) {
    return { reply: { id, error: (err as Error).message }, transfer: [] };
  }
}
