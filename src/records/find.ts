// Finding kubetrail's own records of one kind among a bundle's lines without parsing every line:
// a record's compact JSON always holds `"kind":"<Kind>"`, which is looked for first, and only
// lines holding it are parsed (and must be such a record at their top level).
import { KUBETRAIL_API_VERSION } from "../audit/types.js";

/** What every record of `kind` holds, as compact JSON: a bundle without it holds none. */
export function kindMarker(kind: string): string {
  return `"kind":"${kind}"`;
}

/** kindMarker's bytes, made once per kind: a mirror looks for records in every entry it takes. */
const MARKERS = new Map<string, Buffer>();

/** Records of `kind` in `bundle` (whose first line is entry `firstIndex`) that `accept` takes, with their index. */
export function findRecords<T>(
  bundle: Uint8Array,
  firstIndex: number,
  kind: string,
  accept: (doc: Record<string, unknown>) => T | null,
): { index: number; record: T }[] {
  const data = Buffer.from(bundle.buffer, bundle.byteOffset, bundle.byteLength);
  let marker = MARKERS.get(kind);
  if (marker === undefined) MARKERS.set(kind, (marker = Buffer.from(kindMarker(kind))));
  const out: { index: number; record: T }[] = [];
  let line = 0;
  let lineStart = 0;
  let at = data.indexOf(marker);
  while (at !== -1) {
    // Count the lines before the one holding the marker.
    for (let nl = data.indexOf(0x0a, lineStart); nl !== -1 && nl < at; nl = data.indexOf(0x0a, lineStart)) {
      line++;
      lineStart = nl + 1;
    }
    let end = data.indexOf(0x0a, at);
    if (end === -1) end = data.length;
    try {
      const doc = JSON.parse(data.subarray(lineStart, end).toString("utf8")) as Record<string, unknown>;
      if (doc["apiVersion"] === KUBETRAIL_API_VERSION && doc["kind"] === kind) {
        const record = accept(doc);
        if (record !== null) out.push({ index: firstIndex + line, record });
      }
    } catch {
      // Not JSON: not a record.
    }
    at = data.indexOf(marker, end);
  }
  return out;
}
