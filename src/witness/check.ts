// What an add-checkpoint request gets from a witness, decided against the checkpoint it holds
// for the log: every check of C2SP tlog-witness, in the spec's order, and the cosignature when
// they pass. Nothing here reads or writes the store or takes the log's turn, so it can run on a
// thread of its own (check-thread.ts); the Witness keeps an outcome only if the record it was
// decided against is still the one held once the log's turn comes (witness.ts).
//
// The answers are the spec's: 404 unknown origin; 403 no valid signature by a configured key
// (or a bad one by such a key); 400 malformed body or old size beyond the checkpoint; 409 with
// the size it holds (text/x.tlog.size) when the old size is not that; 422 a size-0 checkpoint
// without the empty root, a proof where none belongs, a proof that does not verify, or a
// different tree of the size it holds. A checkpoint that fails a consistency check while
// validly signed is evidence of a fork (the outcome's `fork`).
//
// It never cosigns two different checkpoints of one size: a request for the size it holds
// must carry the same checkpoint text (extension lines included), which is stricter than the
// spec's "same root".
import {
  type CosignatureSigner,
  emptyTreeHash,
  formatCosignatureResponse,
  formatSizeBody,
  hashesEqual,
  type NoteSignature,
  openCheckpointAsync,
  type OpenedCheckpoint,
  parseAddCheckpointRequest,
  SIZE_CONTENT_TYPE,
  signNoteWith,
  type Signer,
  splitNote,
  type SplitNote,
  TlogError,
  type Verifier,
  verifyConsistency,
} from "../tlog/index.js";
import type { StoredCheckpoint } from "./checkpoint-store.js";
import type { LogConfig } from "./logs-config.js";

export interface WitnessReply {
  status: number;
  contentType: string;
  body: string;
}

export type CheckOutcome =
  /** An answer that does not depend on the record held (400, 403, 404): final as it is. */
  | { kind: "answer"; reply: WitnessReply }
  /** An answer decided against the record held (409, 422; a fork's 422 says why and what it was shown). */
  | { kind: "held"; reply: WitnessReply; fork?: { reason: string; shown: string } }
  /** Every check passed: the record to keep before answering with the cosignature. */
  | { kind: "cosign"; reply: WitnessReply; record: StoredCheckpoint };

/** Decides add-checkpoint requests against the record held and the current logs configuration. */
export interface Checker {
  check(
    body: string,
    held: StoredCheckpoint | undefined,
    logs: ReadonlyMap<string, LogConfig>,
  ): Promise<CheckOutcome>;
}

export interface CheckContext {
  /** The verifier keys of each configured log, by origin. */
  verifiers: ReadonlyMap<string, readonly Verifier[]>;
  /** The witness's key; without one (a mirror's pending checkpoints) the record carries the log's signatures only. */
  signer?: Signer;
  /** Opens the checkpoint with the log's keys: here or on libuv's pool. */
  open(split: SplitNote, verifiers: readonly Verifier[]): OpenedCheckpoint | Promise<OpenedCheckpoint>;
}

const TEXT = "text/plain; charset=utf-8";

const reply = (status: number, body: string, contentType = TEXT): WitnessReply => ({
  status,
  contentType,
  body: body === "" || body.endsWith("\n") ? body : `${body}\n`,
});

const answer = (status: number, body: string): CheckOutcome => ({
  kind: "answer",
  reply: reply(status, body),
});

/** The outcome of add-checkpoint `body` for a log whose held record is `held`; never throws for bad input. */
export async function checkAddCheckpoint(
  body: string,
  held: StoredCheckpoint | undefined,
  ctx: CheckContext,
): Promise<CheckOutcome> {
  let request;
  let split: SplitNote;
  try {
    request = parseAddCheckpointRequest(body);
    split = splitNote(request.checkpoint);
  } catch (err) {
    return answer(400, (err as Error).message);
  }
  const origin = split.text.slice(0, split.text.indexOf("\n"));
  const verifiers = ctx.verifiers.get(origin);
  if (!verifiers) return answer(404, `unknown log origin ${JSON.stringify(origin.slice(0, 200))}`);
  let cp: OpenedCheckpoint;
  try {
    cp = await ctx.open(split, verifiers);
  } catch (err) {
    const code = err instanceof TlogError ? err.code : "";
    if (code === "malformed-note" || code === "malformed-checkpoint")
      return answer(400, (err as Error).message);
    return answer(403, `checkpoint is not validly signed by a key of ${origin}: ${(err as Error).message}`);
  }
  if (request.oldSize > cp.size)
    return answer(400, `old size ${request.oldSize} is larger than the checkpoint's size ${cp.size}`);

  const heldSize = held?.size ?? 0;
  if (request.oldSize !== heldSize)
    return { kind: "held", reply: reply(409, formatSizeBody(heldSize), SIZE_CONTENT_TYPE) };
  const refuse = (why: string): CheckOutcome => ({
    kind: "held",
    reply: reply(422, why),
    ...(held ? { fork: { reason: why, shown: request.checkpoint } } : {}),
  });
  if (cp.size === 0 && !hashesEqual(cp.rootHash, emptyTreeHash()))
    return { kind: "held", reply: reply(422, "a checkpoint of size 0 must have the root of the empty tree") };
  if (request.oldSize === 0 && request.proof.length > 0)
    return { kind: "held", reply: reply(422, "a consistency proof from size 0 must be empty") };
  if (held && request.oldSize === cp.size) {
    if (!hashesEqual(held.rootHash, cp.rootHash))
      return refuse(`a different tree of size ${cp.size} than the one this witness cosigned`);
    if (splitNote(held.note).text !== cp.text)
      return refuse(
        `a different checkpoint of size ${cp.size} (extension lines differ) than the one cosigned`,
      );
  } else if (held && !verifyConsistency(held.size, cp.size, request.proof, held.rootHash, cp.rootHash)) {
    return refuse(`the consistency proof from size ${held.size} to ${cp.size} does not verify`);
  }
  const logSignatures: NoteSignature[] = cp.signatures.map(({ name, keyHash, base64 }) => ({
    name,
    keyHash,
    base64,
  }));
  const { note, added } = await signNoteWith(cp.text, ctx.signer ? [ctx.signer] : [], logSignatures);
  return {
    kind: "cosign",
    record: { size: cp.size, rootHash: cp.rootHash, note },
    reply: reply(200, formatCosignatureResponse(added)),
  };
}

/**
 * The checks on this thread, the signatures checked and made on libuv's pool (a mirror's
 * pending checkpoints; the witness runs them on check threads, check-thread.ts). Without a
 * signer the record carries the log's signatures only and the answer is empty.
 */
export function inlineChecker(signer?: CosignatureSigner): Checker {
  const offThread = signer?.offThread();
  let logs: ReadonlyMap<string, LogConfig> | undefined;
  let verifiers = new Map<string, LogConfig["verifiers"]>();
  return {
    check(body, held, current) {
      if (current !== logs) {
        logs = current;
        verifiers = new Map([...current].map(([origin, log]) => [origin, log.verifiers]));
      }
      return checkAddCheckpoint(body, held, { verifiers, signer: offThread, open: openCheckpointAsync });
    },
  };
}
