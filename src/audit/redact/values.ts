// Masks credentials recognised by what they are (src/secrets) anywhere in an audit event: the
// request URI, request and response bodies, annotations, user info, status messages. Each
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

/** Fields kubetrail validates as identifiers, times and enums: nothing there can be a credential. */
const NOT_SCANNED = new Set([
  "kind",
  "apiVersion",
  "level",
  "auditID",
  "stage",
  "verb",
  "sourceIPs",
  "requestReceivedTimestamp",
  "stageTimestamp",
]);

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
    if (NOT_SCANNED.has(field)) continue;
    const value = event[field];
    const next = redactJson(value, field, scanner, key, paths, kinds);
    if (next !== value) setOwnField((out ??= copyEvent(event)), field, next);
  }
  return { event: out ?? event, paths, kinds: [...kinds].sort() };
}
