// What a witness bench sends: for each of many logs, a run of add-checkpoint bodies, each log
// growing by a few entries per checkpoint, every body prepared (signed, with its proof) before
// the timed phase so the load side spends its CPU on HTTP alone. Leaf hashes are random: a
// witness never sees entries.
import { randomBytes } from "node:crypto";
import {
  formatAddCheckpointRequest,
  generateNoteKey,
  memoryHashReader,
  NoteSigner,
  proveConsistency,
  signCheckpoint,
  treeHash,
} from "../../src/tlog/index.js";
import { makeRng } from "./rng.js";

export interface WitnessedLog {
  origin: string;
  verifierKey: string;
  /** Bodies to send in order: the first from "old 0". */
  bodies: string[];
}

export async function witnessLoad(seed: number, logs: number, perLog: number): Promise<WitnessedLog[]> {
  const rng = makeRng(seed);
  const out: WitnessedLog[] = [];
  for (let l = 0; l < logs; l++) {
    const origin = `bench.witness/log${l}`;
    const keys = generateNoteKey(origin);
    const signer = NoteSigner.fromKey(keys.signerKey);
    const sizes: number[] = [];
    let size = 0;
    for (let i = 0; i < perLog; i++) sizes.push((size += rng.range(1, 8)));
    const leaves = Array.from({ length: size }, () => new Uint8Array(randomBytes(32)));
    const reader = memoryHashReader(leaves);
    const bodies: string[] = [];
    let old = 0;
    for (const s of sizes) {
      const note = await signCheckpoint(
        { origin, size: s, rootHash: await treeHash(s, reader), extensions: [] },
        signer,
      );
      bodies.push(
        formatAddCheckpointRequest({
          oldSize: old,
          proof: old === 0 ? [] : await proveConsistency(old, s, reader),
          checkpoint: note,
        }),
      );
      old = s;
    }
    out.push({ origin, verifierKey: keys.verifierKey, bodies });
  }
  return out;
}
