// The bodies of C2SP tlog-witness (add-checkpoint) as a witness and a log exchange them:
//
//   request   old <size>\n  <base64 hash>\n × 0…63  \n  <signed checkpoint note>
//   200       one or more note signature lines ("— <name> <base64>\n"): the cosignatures
//   409       "<size the witness holds>\n", Content-Type text/x.tlog.size
//
// Pure parsing and formatting; what a witness checks is in src/witness/.

import { decodeBase64, encodeBase64 } from "./base64.js";
import { TlogError } from "./errors.js";
import { type Hash } from "./hash.js";
import { type NoteSignature, parseSignatureLine } from "./note.js";

/** The most consistency proof lines a request may carry (the spec's limit). */
export const MAX_PROOF_LINES = 63;
export const SIZE_CONTENT_TYPE = "text/x.tlog.size";

export interface AddCheckpointRequest {
  /** The size of the checkpoint the witness last cosigned for this log, as the client believes. */
  oldSize: number;
  /** RFC 6962 consistency proof from oldSize to the checkpoint's size. */
  proof: Hash[];
  /** The signed checkpoint note, signatures included. */
  checkpoint: string;
}

function malformed(why: string): TlogError {
  return new TlogError("malformed-request", `malformed add-checkpoint request: ${why}`);
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

function parseDecimal(text: string, what: string): number {
  if (!DECIMAL.test(text) || !Number.isSafeInteger(Number(text)))
    throw malformed(`${what} ${JSON.stringify(text.slice(0, 40))} is not a decimal without leading zeros`);
  return Number(text);
}

/** The request body for add-checkpoint. */
export function formatAddCheckpointRequest(req: AddCheckpointRequest): string {
  if (!Number.isSafeInteger(req.oldSize) || req.oldSize < 0) throw malformed(`old size ${req.oldSize}`);
  if (req.proof.length > MAX_PROOF_LINES) throw malformed(`${req.proof.length} proof lines`);
  const proof = req.proof.map((h) => `${encodeBase64(h)}\n`).join("");
  return `old ${req.oldSize}\n${proof}\n${req.checkpoint}`;
}

/**
 * Parses an add-checkpoint request body. Only the framing is checked here (the old size line,
 * base64 32-byte hashes, at most 63 of them, the blank line); the checkpoint note is returned
 * as text for the witness to open. Throws TlogError("malformed-request").
 */
export function parseAddCheckpointRequest(body: string): AddCheckpointRequest {
  const blank = body.indexOf("\n\n");
  if (blank < 0) throw malformed("no blank line after the old size and proof lines");
  const head = body.slice(0, blank).split("\n");
  const checkpoint = body.slice(blank + 2);
  const oldLine = head[0]!;
  if (!oldLine.startsWith("old ")) throw malformed('the first line is not "old <size>"');
  const oldSize = parseDecimal(oldLine.slice(4), "old size");
  const lines = head.slice(1);
  if (lines.length > MAX_PROOF_LINES)
    throw malformed(`${lines.length} proof lines (at most ${MAX_PROOF_LINES})`);
  const proof = lines.map((line, i) => {
    const h = decodeBase64(line);
    if (!h || h.length !== 32) throw malformed(`proof line ${i + 1} is not base64 of a 32-byte hash`);
    return h;
  });
  if (checkpoint === "") throw malformed("no checkpoint after the blank line");
  return { oldSize, proof, checkpoint };
}

/**
 * The origin an add-checkpoint body names (its checkpoint's first line), read without parsing
 * the rest: what a witness needs to find the log's state before checking the request. For a
 * body parseAddCheckpointRequest accepts it is the checkpoint's origin; null when there is no
 * checkpoint to name one.
 */
export function addCheckpointOrigin(body: string): string | null {
  const blank = body.indexOf("\n\n");
  if (blank < 0) return null;
  const end = body.indexOf("\n", blank + 2);
  return end < 0 ? null : body.slice(blank + 2, end);
}

/** The 409 body: the size of the latest checkpoint the witness cosigned. */
export function formatSizeBody(size: number): string {
  return `${size}\n`;
}

/** Parses a text/x.tlog.size body; throws TlogError("malformed-request"). */
export function parseSizeBody(body: string): number {
  if (!body.endsWith("\n")) throw malformed("size body does not end in a newline");
  return parseDecimal(body.slice(0, -1), "size");
}

/** The 200 body: cosignature lines. */
export function formatCosignatureResponse(signatures: readonly NoteSignature[]): string {
  return signatures.map((s) => `\u2014 ${s.name} ${s.base64}\n`).join("");
}

/**
 * The signature lines of a witness's (or mirror's) 200 answer. Every line must be a note
 * signature line; which of them count is for the caller to decide with its verifiers.
 * Throws TlogError("malformed-note") or ("malformed-request") for an empty answer.
 */
export function parseCosignatureResponse(body: string): NoteSignature[] {
  if (body === "" || !body.endsWith("\n"))
    throw malformed("the answer is empty or does not end in a newline");
  return body.slice(0, -1).split("\n").map(parseSignatureLine);
}
