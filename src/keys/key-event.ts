// The key history of a log, kept in the log itself: a kubetrail.dev/v1 KeyEvent entry each time
// a signing key is added or retired. Each is endorsed — signed — by a key already trusted, so a
// verifier who pinned any one of the log's keys can follow the chain to the others:
//
//   {"apiVersion":"kubetrail.dev/v1","kind":"KeyEvent","action":"added",
//    "key":"<verifier key>","time":"<RFC 3339>",
//    "endorsement":{"key":"<endorsing verifier key>","signature":"<base64 Ed25519>"}}
//
// The endorsement signs "kubetrail key-event v1\n<action>\n<key>\n<time>\n" with the endorsing
// key. (No checkpoint can be read as that message: a checkpoint's first line is its origin, a
// key name, which has no spaces.) Where the entry sits decides when it applies: an added key
// signs checkpoints that cover its entry; a retired key signs none that cover its entry.
import { isRecord } from "../json/record.js";
import { decodeBase64, encodeBase64, NoteVerifier, type Signer } from "../tlog/index.js";

export const KEY_EVENT_API_VERSION = "kubetrail.dev/v1";
export const KEY_EVENT_KIND = "KeyEvent";

export type KeyAction = "added" | "retired";

export interface KeyEvent {
  apiVersion: typeof KEY_EVENT_API_VERSION;
  kind: typeof KEY_EVENT_KIND;
  action: KeyAction;
  /** The verifier key added or retired. */
  key: string;
  time: string;
  endorsement: { key: string; signature: string };
}

const encoder = new TextEncoder();

/** What an endorsement signs. */
export function endorsedMessage(action: KeyAction, key: string, time: string): Uint8Array {
  return encoder.encode(`kubetrail key-event v1\n${action}\n${key}\n${time}\n`);
}

/** A KeyEvent for `key`, endorsed by `endorser` (whose verifier key is `endorserKey`). */
export async function makeKeyEvent(
  action: KeyAction,
  key: string,
  endorser: Signer,
  endorserKey: string,
  now = new Date(),
): Promise<KeyEvent> {
  const time = now.toISOString();
  const signature = await endorser.sign(endorsedMessage(action, key, time));
  return {
    apiVersion: KEY_EVENT_API_VERSION,
    kind: KEY_EVENT_KIND,
    action,
    key,
    time,
    endorsement: { key: endorserKey, signature: encodeBase64(signature) },
  };
}

/** The entry bytes of a KeyEvent (one line of JSON). */
export function encodeKeyEvent(e: KeyEvent): Uint8Array {
  return encoder.encode(JSON.stringify(e));
}

const MARKER = Buffer.from(`"kind":"${KEY_EVENT_KIND}"`);

/** A cheap test before parsing: only bytes that hold this can be a KeyEvent. */
export function mayHoldKeyEvent(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(MARKER) !== -1;
}

/**
 * The KeyEvent an entry holds, with its endorsement checked against the endorsing key it names
 * (whether that key is trusted is the caller's question); null for any other entry; a string
 * saying what is wrong with a malformed KeyEvent or an endorsement that does not verify.
 */
export function readKeyEvent(
  bytes: Uint8Array,
): { event: KeyEvent; key: NoteVerifier; endorser: NoteVerifier } | string | null {
  if (!mayHoldKeyEvent(bytes)) return null;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    return null;
  }
  if (!isRecord(v) || v["kind"] !== KEY_EVENT_KIND || v["apiVersion"] !== KEY_EVENT_API_VERSION) return null;
  const { action, key, time, endorsement } = v;
  if (action !== "added" && action !== "retired") return `KeyEvent: unknown action ${JSON.stringify(action)}`;
  if (typeof key !== "string" || typeof time !== "string") return "KeyEvent: key or time is not a string";
  if (
    !isRecord(endorsement) ||
    typeof endorsement["key"] !== "string" ||
    typeof endorsement["signature"] !== "string"
  )
    return "KeyEvent: no endorsement";
  let subject: NoteVerifier;
  let endorser: NoteVerifier;
  try {
    subject = NoteVerifier.fromKey(key);
    endorser = NoteVerifier.fromKey(endorsement["key"]);
  } catch (err) {
    return `KeyEvent: ${(err as Error).message}`;
  }
  if (subject.name !== endorser.name)
    return "KeyEvent: the keys are named differently (a log's keys are named as its origin)";
  const signature = decodeBase64(endorsement["signature"]);
  if (!signature || !endorser.verify(endorsedMessage(action, key, time), signature))
    return `KeyEvent ${action} ${key}: the endorsement by ${endorsement["key"]} does not verify`;
  return { event: v as unknown as KeyEvent, key: subject, endorser };
}
