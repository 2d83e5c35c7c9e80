// What happens to an audit event between the webhook/import and the log: the ingest policy
// (drop, lower, omit managedFields) and then redaction — by path (Secrets, token requests,
// operator rules) and by what a value is (src/secrets) — so nothing secret is ever hashed.
import { attributesFromEvent } from "./policy/attributes.js";
import { createPolicyEvaluator } from "./policy/evaluate.js";
import type { Policy } from "./policy/types.js";
import { copyEvent } from "./redact/copy-event.js";
import { createRedactor } from "./redact/redact-event.js";
import type { RedactionRule } from "./redact/rules.js";
import { tagBytes } from "./redact/tag.js";
import { mayHoldCredential, maskText, redactJson, redactValues, TAG_PATTERN } from "./redact/values.js";
import { compileDetectorConfig, createScanner, type SecretScanner } from "../secrets/index.js";
import { KUBETRAIL_ANNOTATIONS, LEVELS, type AuditEvent, type Level } from "./types.js";
import { isRecord } from "../json/record.js";
import { setOwnField } from "../json/own-field.js";

export interface IngestTransformOptions {
  policy?: Policy;
  redaction: {
    key: Uint8Array;
    extraRules?: RedactionRule[];
    /** Operator detectors (readDetectorConfig's plain data: it crosses to worker threads). */
    detectors?: unknown;
    /** False turns detection by value off (the benchmark's baseline); default true. */
    values?: boolean;
  };
}

/**
 * `raw`, when given, is the event's JSON as received (or a text holding it and nothing else):
 * when its bytes cannot hold a credential the detectors find (mayHoldCredential), the event's
 * strings are not looked at one by one, and an event sent as stored stays so. `members`, where
 * raw's top-level names start (ObjectScan.members), lets that check skip fields never scanned.
 */
export type IngestTransform = (
  event: AuditEvent,
  raw?: Uint8Array,
  members?: readonly number[],
) => AuditEvent | null;

const RANK: Record<string, number> = Object.fromEntries(LEVELS.map((l, i) => [l, i]));
const REQUEST = RANK.Request!;
const REQUEST_RESPONSE = RANK.RequestResponse!;

/**
 * Builds the ingest transform. For each event it guarantees:
 * - null when the policy gives level None or omits the event's stage (the caller drops it);
 * - otherwise the event (a copy when anything changed; the input is never modified) at
 *   the lower of the level the apiserver sent and the level the policy gives:
 *   requestObject is kept only at Request or above, responseObject only at
 *   RequestResponse; nothing is ever added;
 * - managedFields removed from request/response objects when the policy asks;
 * - credentials replaced by HMAC tags, listed in the `kubetrail.dev/redacted` annotation:
 *   values the path rules select, and credentials the detectors recognise anywhere (their
 *   kinds in `kubetrail.dev/redacted-kinds`);
 * - with a policy, the index of the rule that shaped it in `kubetrail.dev/policy-rule`.
 * Annotations under those keys that arrive with the event are removed: only kubetrail may
 * set them.
 */
export function createIngestTransform(opts: IngestTransformOptions): IngestTransform {
  const evaluator = opts.policy ? createPolicyEvaluator(opts.policy) : undefined;
  const redact = createRedactor(opts.redaction);
  const scanner = opts.redaction.values === false ? undefined : scannerFor(opts);
  return (input, raw, members) => {
    // Copy-on-write: the input is never modified, and returned as is when nothing changes.
    let event: AuditEvent = input;
    let rule: string | undefined;
    if (evaluator) {
      const decision = evaluator.evaluate(attributesFromEvent(input));
      if (decision.level === "None" || decision.omitStages.includes(input.stage)) return null;
      event = copyEvent(input);
      lowerTo(event, decision.level);
      if (decision.omitManagedFields) stripManagedFields(event);
      rule = String(decision.rule);
    }
    const redacted = redact(event);
    event = redacted.event;
    let paths = redacted.paths;
    let kinds = NO_KINDS;
    // Most events: their bytes cannot hold a credential the detectors find (nothing allocated).
    if (scanner !== undefined && (raw === undefined || mayHoldCredential(scanner, raw, members))) {
      const byValue = redactValues(event, scanner, opts.redaction.key);
      if (byValue.paths.length > 0) {
        event = byValue.event;
        paths = [...paths, ...byValue.paths.filter((p) => !paths.includes(p))];
        kinds = byValue.kinds;
      }
    }
    const src = input.annotations;
    const forged = src !== undefined && hasKubetrailKeys(src);
    if (rule === undefined && paths.length === 0 && !forged) return event;
    if (event === input) event = copyEvent(input);
    // Annotations as the value detectors left them (an annotation may have held a credential).
    const own = event.annotations;
    const annotations = own === undefined ? {} : forged ? withoutKubetrailKeys(own) : { ...own };
    if (rule !== undefined) annotations[KUBETRAIL_ANNOTATIONS.policyRule] = rule;
    if (paths.length > 0) annotations[KUBETRAIL_ANNOTATIONS.redacted] = paths.join(",");
    if (kinds.length > 0) annotations[KUBETRAIL_ANNOTATIONS.redactedKinds] = kinds.join(",");
    event.annotations = annotations;
    return event;
  };
}

/**
 * Building a scanner compiles every detector and keyword table (milliseconds of CPU, more while
 * the code is cold): the transform and the item redactor of one receive context share one.
 */
const scanners = new WeakMap<IngestTransformOptions, SecretScanner>();

function scannerFor(opts: IngestTransformOptions): SecretScanner {
  let scanner = scanners.get(opts);
  if (scanner === undefined) {
    const config = opts.redaction.detectors;
    scanner = createScanner(
      config === undefined ? undefined : compileDetectorConfig(config, "secret detectors"),
      TAG_PATTERN,
    );
    scanners.set(opts, scanner);
  }
  return scanner;
}

/** Masks what was received but not stored as an event (a rejected item), as an event would be. */
export interface ItemRedactor {
  /** `value` (named `root` in the paths) with path rules applied when it is an object, and every detected credential masked. */
  value(value: unknown, root: string): { value: unknown; paths: string[]; kinds: string[] };
  /** `text` with every detected credential masked (a reason quoting a value). */
  text(text: string): string;
  /** The HMAC tag of `bytes` under the log's redaction key (see tag.ts). */
  tag(bytes: Uint8Array): string;
}

/**
 * Builds the redactor for rejected items from the same options as the transform. Detection by
 * value applies whatever `redaction.values` says: an item's fields cannot be trusted to be
 * what their names say, so every string is looked at.
 */
export function createItemRedactor(opts: IngestTransformOptions): ItemRedactor {
  const redact = createRedactor(opts.redaction);
  // Built when an item is first refused: with detection by value off, most workers never need it.
  const scanner = (): SecretScanner => scannerFor(opts);
  const key = Uint8Array.from(opts.redaction.key);
  return {
    value(value, root) {
      const paths: string[] = [];
      const kinds = new Set<string>();
      let v = value;
      if (isRecord(v)) {
        const byPath = redact(v as AuditEvent);
        v = byPath.event;
        for (const p of byPath.paths) paths.push(`${root}.${p}`);
      }
      v = redactJson(v, root, scanner(), key, paths, kinds);
      return { value: v, paths, kinds: [...kinds].sort() };
    },
    text: (text) => maskText(text, scanner(), key),
    tag: (bytes) => tagBytes(key, bytes),
  };
}

const NO_KINDS: readonly string[] = [];

const OWN_KEYS: readonly string[] = [
  KUBETRAIL_ANNOTATIONS.policyRule,
  KUBETRAIL_ANNOTATIONS.redacted,
  KUBETRAIL_ANNOTATIONS.redactedKinds,
];

function hasKubetrailKeys(src: Record<string, string>): boolean {
  return OWN_KEYS.some((k) => Object.hasOwn(src, k));
}

/** A copy of the apiserver's annotations without kubetrail's own keys (those may only come from kubetrail). */
function withoutKubetrailKeys(src: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(src)) {
    if (!OWN_KEYS.includes(k)) setOwnField(out, k, v);
  }
  return out;
}

/** Lowers the event in place (it is already a copy); a level it did not reach is never raised. */
function lowerTo(event: AuditEvent, policyLevel: Level): void {
  const sent = RANK[event.level] ?? REQUEST_RESPONSE;
  const rank = Math.min(sent, RANK[policyLevel]!);
  event.level = LEVELS[rank]!;
  if (rank < REQUEST && "requestObject" in event) delete event.requestObject;
  if (rank < REQUEST_RESPONSE && "responseObject" in event) delete event.responseObject;
}

/**
 * Like the apiserver, removes metadata.managedFields from objects and from the items of
 * lists. A patch body is recorded raw by the apiserver (never stripped), so it is kept.
 */
function stripManagedFields(event: AuditEvent): void {
  if (event.requestObject !== undefined && event.verb !== "patch")
    event.requestObject = withoutManagedFields(event.requestObject);
  if (event.responseObject !== undefined) event.responseObject = withoutManagedFields(event.responseObject);
}

function withoutManagedFields(obj: unknown): unknown {
  if (!isRecord(obj)) return obj;
  if (Array.isArray(obj.items)) return { ...obj, items: obj.items.map(stripOne) };
  return stripOne(obj);
}

function stripOne(obj: unknown): unknown {
  if (!isRecord(obj) || !isRecord(obj.metadata) || !Object.hasOwn(obj.metadata, "managedFields")) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}
