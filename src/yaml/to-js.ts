// Converting a parsed YAML document to plain values can still fail after parsing succeeded
// (an alias to an anchor that does not exist, too many alias expansions): those failures
// surface here as a message, so each loader reports them with its own typed error.
import type { Document } from "yaml";

export type ToJsResult = { ok: true; value: unknown } | { ok: false; error: string };

export function documentToJs(doc: Document.Parsed | Document): ToJsResult {
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
