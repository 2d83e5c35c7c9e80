// Masks credentials in an audit event before it reaches the log (and so before hashing).
import type { AuditEvent } from "../types.js";
import { copyEvent } from "./copy-event.js";
import { redactDocument, type RedactionSink } from "./apply.js";
import { BUILTIN_RULES, compileRules, type CompiledPath, type RedactionRule } from "./rules.js";
import { assertRedactionKey } from "./tag.js";

export interface RedactorOptions {
  /** The per-log HMAC key (at least 32 bytes). */
  key: Uint8Array;
  extraRules?: RedactionRule[];
}

export interface Redacted {
  /** The input event itself when nothing was masked, otherwise a copy. */
  event: AuditEvent;
  /** JSON paths (from the event root) whose values were replaced by tags, in document order. */
  paths: readonly string[];
}

export type Redactor = (event: AuditEvent) => Redacted;

// Shared, never modified: redaction extends paths by copying.
const REQUEST_AT = ["requestObject"];
const RESPONSE_AT = ["responseObject"];
const NO_PATHS: readonly string[] = [];

/**
 * Builds a redactor. Guarantees: every value selected by a built-in or extra rule in
 * requestObject/responseObject is replaced by its HMAC tag; the input event is not modified.
 */
export function createRedactor(opts: RedactorOptions): Redactor {
  assertRedactionKey(opts.key);
  const key = Uint8Array.from(opts.key);
  // group → resource (or resource/subresource) → paths
  const byResource = new Map<string, Map<string, CompiledPath[]>>();
  for (const rule of [...BUILTIN_RULES, ...compileRules(opts.extraRules ?? [], "extra redaction rules")]) {
    const group = byResource.get(rule.group) ?? new Map<string, CompiledPath[]>();
    byResource.set(rule.group, group);
    group.set(rule.resource, [...(group.get(rule.resource) ?? []), ...rule.paths]);
  }
  const none: CompiledPath[] = [];

  return (event) => {
    const ref = event.objectRef;
    let paths = none;
    if (ref?.resource) {
      const group = byResource.get(ref.apiGroup ?? "");
      if (group)
        paths = group.get(ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource) ?? none;
    }
    const sink: RedactionSink = { key, paths: [] };
    const req =
      event.requestObject === undefined
        ? undefined
        : redactDocument(event.requestObject, paths, REQUEST_AT, sink);
    const resp =
      event.responseObject === undefined
        ? undefined
        : redactDocument(event.responseObject, paths, RESPONSE_AT, sink);
    if (sink.paths.length === 0) return { event, paths: NO_PATHS };
    const out: AuditEvent = copyEvent(event);
    if (req !== undefined) out.requestObject = req;
    if (resp !== undefined) out.responseObject = resp;
    return { event: out, paths: sink.paths };
  };
}
