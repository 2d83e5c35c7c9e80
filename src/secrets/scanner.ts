// Telling whether a value is (or contains) a credential: by its format (formats.ts), by the
// name it is stored under (credential-keys.ts), or by a `name=value` inside it (assignments.ts).
// Pure: no I/O, no state between calls; the same scanner serves ingest's redaction and guard's
// admission checks.
import { findAssignments, foldAscii } from "./assignments.js";
import {
  classifyKey,
  confirmNameKeyword,
  credentialNameKeywords,
  isAwsSecretKey,
  isCredentialValue,
  type KeyClass,
} from "./credential-keys.js";
import { BUILTIN_FORMATS, type FormatDetector, type Span } from "./formats.js";
import { KeywordSet, MIN_KEYWORD_LENGTH } from "./keywords.js";

/**
 * `format`: the value's own shape proves it (a token format, a private key);
 * `name`: the key it is stored under, or the name it is assigned to in a text, calls it a
 * credential and the value fits (see isCredentialValue).
 */
export type FindingBasis = "format" | "name";

export interface SecretFinding extends Span {
  /**
   * A format detector's id (`aws-access-key-id`, `jwt`, …), or for names: `password`,
   * `aws-secret-access-key` or `credential`.
   */
  kind: string;
  basis: FindingBasis;
}

export interface DetectContext {
  /**
   * The name the value is stored under: an object's key, an environment variable's name, a
   * command-line flag. Omitted: only the value itself is looked at.
   */
  key?: string;
}

export interface ScannerOptions {
  /** The format detectors; default BUILTIN_FORMATS. Add with `[...BUILTIN_FORMATS, ...mine]`. */
  formats?: readonly FormatDetector[];
  /** More last words that make a name a credential (lowercase, 3+ characters), e.g. `pin`. */
  credentialWords?: readonly string[];
  /** Spans this pattern matches are never findings (values already masked); needs the `g` flag. */
  opaque?: RegExp;
}

/** More findings than this in one value: the whole value is one finding. */
const MAX_FINDINGS_PER_VALUE = 1000;

export class SecretScanner {
  readonly formats: readonly FormatDetector[];
  private readonly credentialWords: readonly string[];
  private readonly nameKeywords: readonly string[];
  /** Keywords of the formats (group = the format's index) and of names (group = formats.length). */
  private readonly textKeywords: KeywordSet;
  /** The same, plus JSON escapes that could spell a keyword's character; undefined: cannot pre-filter. */
  private readonly rawKeywords: KeywordSet | undefined;
  private readonly hits: Uint8Array;
  private readonly keyClasses = new Map<string, KeyClass | null>();
  private readonly opaque: RegExp | undefined;

  constructor(opts: ScannerOptions = {}) {
    this.formats = opts.formats ?? BUILTIN_FORMATS;
    this.credentialWords = (opts.credentialWords ?? []).map((w) => w.toLowerCase());
    this.nameKeywords = credentialNameKeywords(this.credentialWords);
    const words: string[] = [];
    const groups: number[] = [];
    this.formats.forEach((f, i) => {
      for (const k of f.keywords) {
        words.push(k.toLowerCase());
        groups.push(i);
      }
    });
    for (const k of this.nameKeywords) {
      words.push(k);
      groups.push(this.formats.length);
    }
    this.textKeywords = new KeywordSet(words, groups);
    this.hits = new Uint8Array(this.formats.length + 1);
    const everyFormatHasKeywords = this.formats.every((f) => f.keywords.length > 0);
    if (everyFormatHasKeywords) {
      const escapes = jsonEscapesOf(words);
      const confirm = groups.map((g) => (g === this.formats.length ? confirmNameKeyword : undefined));
      this.rawKeywords = new KeywordSet(
        [...words, ...escapes],
        [...groups, ...escapes.map(() => 0)],
        confirm,
      );
    }
    this.opaque = opts.opaque;
  }

  /**
   * Whether the JSON text `raw[start, end)` may hold a credential that `detect` would find in
   * one of its strings, with that string's key as context. False is a guarantee for text as
   * JSON encoders write it (see docs/secrets.md): every finding's keyword, or a JSON escape
   * that could spell part of one, occurs in the bytes. Cheap: one pass over about half the
   * bytes, no allocation.
   */
  mayContainSecrets(raw: Uint8Array, start = 0, end = raw.length): boolean {
    return this.rawKeywords === undefined || this.rawKeywords.anyIn(raw, start, end);
  }

  /** Whether a name (key, variable, flag) calls its value a credential, and which kind. */
  keyClass(name: string): KeyClass | undefined {
    let cls = this.keyClasses.get(name);
    if (cls === undefined) {
      cls = classifyKey(name, this.credentialWords) ?? null;
      if (this.keyClasses.size > 10_000) this.keyClasses.clear();
      this.keyClasses.set(name, cls);
    }
    return cls ?? undefined;
  }

  /**
   * The credentials in `value`, in order, not overlapping (overlapping findings are merged into
   * the first). A value under a credential-like key that fits is one finding, the whole value.
   */
  detect(value: string, context: DetectContext = {}): SecretFinding[] {
    const findings: SecretFinding[] = [];
    if (context.key !== undefined) {
      const cls = this.keyClass(context.key);
      if (cls !== undefined && isCredentialValue(value, cls)) {
        const kind = isAwsSecretKey(context.key, value) ? "aws-secret-access-key" : cls;
        return this.withoutOpaque([{ start: 0, end: value.length, kind, basis: "name" }], value);
      }
    }
    if (value.length < MIN_KEYWORD_LENGTH) return findings;
    const hits = this.hits;
    hits.fill(0);
    if (!this.textKeywords.groupsIn(value, hits)) return findings;
    this.formats.forEach((f, i) => {
      if (hits[i] === 0) return;
      for (const span of f.find(value)) findings.push({ ...span, kind: f.id, basis: "format" });
    });
    if (hits[this.formats.length] === 1) {
      const assigned = findAssignments(
        value,
        foldAscii(value),
        this.nameKeywords,
        (n) => this.keyClass(n),
        MAX_FINDINGS_PER_VALUE,
      );
      for (const a of assigned) {
        if (!isCredentialValue(value.slice(a.start, a.end), a.kind)) continue;
        const kind = isAwsSecretKey(a.name, value.slice(a.start, a.end)) ? "aws-secret-access-key" : a.kind;
        findings.push({ start: a.start, end: a.end, kind, basis: "name" });
      }
    }
    if (findings.length > MAX_FINDINGS_PER_VALUE) {
      return [{ start: 0, end: value.length, kind: findings[0]!.kind, basis: findings[0]!.basis }];
    }
    return this.withoutOpaque(merge(findings), value);
  }

  private withoutOpaque(findings: SecretFinding[], value: string): SecretFinding[] {
    if (this.opaque === undefined || findings.length === 0) return findings;
    const opaque: Span[] = [];
    this.opaque.lastIndex = 0;
    for (let m = this.opaque.exec(value); m !== null; m = this.opaque.exec(value)) {
      opaque.push({ start: m.index, end: m.index + m[0].length });
      if (m[0] === "") this.opaque.lastIndex++;
    }
    if (opaque.length === 0) return findings;
    return findings.filter((f) => !opaque.some((o) => f.start < o.end && o.start < f.end));
  }
}

function merge(findings: SecretFinding[]): SecretFinding[] {
  if (findings.length < 2) return findings;
  findings.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: SecretFinding[] = [findings[0]!];
  for (const f of findings.slice(1)) {
    const last = out.at(-1)!;
    if (f.start < last.end) last.end = Math.max(last.end, f.end);
    else out.push(f);
  }
  return out;
}

/**
 * JSON may spell any character as \u00XX (the apiserver's encoder does so only for <, > and &,
 * which no keyword holds): an item whose bytes spell a keyword's character that way must not
 * pass the raw pre-filter. (The escaped slash, `\/`, is in the URL detector's own keywords.)
 */
function jsonEscapesOf(keywords: readonly string[]): string[] {
  const chars = new Set<number>();
  for (const k of keywords) {
    for (const c of Buffer.from(k, "latin1")) {
      chars.add(c);
      if (c >= 0x61 && c <= 0x7a) chars.add(c & ~0x20);
    }
  }
  return [...chars].map((c) => `\\u00${c.toString(16).padStart(2, "0")}`);
}
