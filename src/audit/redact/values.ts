// Masks credentials recognised by what they are (src/secrets) wherever an audit event carries
// what was sent: the request URI, request and response bodies, annotations, status. Each
// credential's span is replaced by its HMAC tag, the text around it kept (`Authorization:
// Bearer kubetrail-hmac-sha256:…`), so an investigator can still read the event and confirm a
// candidate value with `kubetrail redaction check`.
import { setOwnField } from "../../json/own-field.js";
import { mapStrings, pathOf, type SecretScanner } from "../../secrets/index.js";
import type { AuditEvent } from "../types.js";
import { copyEvent } from "./copy-event.js";
import { formatJsonPath } from "./json-path.js";
import { tagBytes, TAG_PREFIX } from "./tag.js";

/** A tag in a value: never a finding itself (a value masked by a path rule, or sent masked). */
export const TAG_PATTERN = new RegExp(`${TAG_PREFIX}[A-Za-z0-9_-]{43}`, "g");

/**
 * Top-level fields not looked at: those kubetrail validates as identifiers, times and enums,
 * and who sent the request and about which object (user info, user agent, object reference),
 * which name principals and objects rather than carry what they send. Credentials travel in
 * the request URI, the bodies, annotations and status messages; those are looked at.
 */
const NOT_SCANNED = [
  "kind",
  "apiVersion",
  "level",
  "auditID",
  "stage",
  "verb",
  "user",
  "impersonatedUser",
  "sourceIPs",
  "userAgent",
  "objectRef",
  "requestReceivedTimestamp",
  "stageTimestamp",
];
const NOT_SCANNED_SET = new Set(NOT_SCANNED);
/** Each skipped field's name as compact JSON writes it before its value (`"user":`), by its first letter. */
const NOT_SCANNED_NAMES: Uint8Array[][] = Array.from({ length: 256 }, () => []);
for (const f of NOT_SCANNED) NOT_SCANNED_NAMES[f.charCodeAt(0)]!.push(Buffer.from(`"${f}":`, "latin1"));

/**
 * Whether the event's JSON text `raw` may hold a credential in a field redactValues looks at
 * (see SecretScanner.mayContainSecrets). With `members`, where its top-level names start
 * (ObjectScan.members: a compact object), only the members redactValues looks at are read; a
 * name spelled with escapes is not recognised as a field to skip, so it is read too.
 */
export function mayHoldCredential(
  scanner: SecretScanner,
  raw: Uint8Array,
  members?: readonly number[],
): boolean {
  if (members === undefined || members.length === 0) return scanner.mayContainSecrets(raw);
  // Runs of members to read, from the first such name to the next name skipped.
  let from = -1;
  for (let m = 0; m < members.length; m++) {
    const at = members[m]!;
    if (skipped(raw, at)) {
      if (from >= 0 && scanner.mayContainSecrets(raw, from, at)) return true;
      from = -1;
    } else if (from < 0) from = at;
  }
  return from >= 0 && scanner.mayContainSecrets(raw, from, raw.length);
}

/** Whether the member whose name starts at `at` is a field redactValues skips. */
function skipped(raw: Uint8Array, at: number): boolean {
  for (const name of NOT_SCANNED_NAMES[raw[at + 1]!]!) {
    const last = name.length - 1;
    // The closing quote and colon first: they tell most names of a different length apart.
    if (at + last >= raw.length || raw[at + last] !== 0x3a || raw[at + last - 1] !== 0x22) continue;
    let j = 2;
    while (j < last && raw[at + j] === name[j]) j++;
    if (j === last) return true;
  }
  return false;
}

export interface ValueRedaction {
  /** The input event itself when nothing was masked, otherwise a copy. */
  event: AuditEvent;
  /** JSON paths (from the event root) of the strings in which a span was masked, in document order. */
  paths: string[];
  /** The finding kinds, sorted, each once (`aws-access-key-id`, `password`, …). */
  kinds: string[];
}

/** `text` with every credential `scanner` finds replaced by its tag; `kinds` collects what was found. */
export function maskText(
  text: string,
  scanner: SecretScanner,
  key: Uint8Array,
  name?: string,
  kinds?: Set<string>,
): string {
  const findings = scanner.detect(text, { key: name });
  if (findings.length === 0) return text;
  let masked = "";
  let from = 0;
  for (const f of findings) {
    masked += text.slice(from, f.start) + tagBytes(key, Buffer.from(text.slice(f.start, f.end), "utf8"));
    from = f.end;
    kinds?.add(f.kind);
  }
  return masked + text.slice(from);
}

/**
 * Masks every credential in a JSON value (see redactValues); `root` names the value, the first
 * segment of the paths reported. Copy-on-write.
 */
export function redactJson(
  value: unknown,
  root: string,
  scanner: SecretScanner,
  key: Uint8Array,
  paths: string[],
  kinds: Set<string>,
): unknown {
  return mapStrings(
    value,
    (s, name, parent, segment) => {
      const masked = maskText(s, scanner, key, name, kinds);
      if (masked === s) return undefined;
      paths.push(formatJsonPath([root, ...pathOf(parent, segment)]));
      return masked;
    },
    root,
  );
}

/**
 * Masks every credential `scanner` finds in `event` (fields in NOT_SCANNED aside) with its HMAC
 * tag under `key`, copy-on-write: the input is never modified. Strings are looked at with the
 * name they are stored under (see mapStrings), annotation values with their annotation key.
 */
export function redactValues(event: AuditEvent, scanner: SecretScanner, key: Uint8Array): ValueRedaction {
  const paths: string[] = [];
  const kinds = new Set<string>();
  let out: AuditEvent | undefined;
  for (const field of Object.keys(event)) {
    if (NOT_SCANNED_SET.has(field)) continue;
    const value = event[field];
    const next = redactJson(value, field, scanner, key, paths, kinds);
    if (next !== value) setOwnField((out ??= copyEvent(event)), field, next);
  }
  return { event: out ?? event, paths, kinds: [...kinds].sort() };
}
