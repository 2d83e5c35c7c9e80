// Reading Kubernetes YAML/JSON the way kubectl does: multi-document YAML (Helm's rendered
// output included), JSON, and `kind: List` whose items are documents of their own, each one
// keeping the file and line it starts at so reports can point there.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { isMap, isSeq, LineCounter, parseAllDocuments, type Document } from "yaml";
import { isRecord } from "../json/record.js";
import { documentToJs } from "../yaml/to-js.js";
import { GuardError } from "./types.js";

export interface SourceDocument {
  file: string;
  /** 1-based line of the document's first line (of the item, for List items). */
  line: number;
  /** Helm's "# Source: chart/templates/x.yaml" comment above the document, when present. */
  template?: string;
  value: Record<string, unknown>;
}

const LIST_KINDS = /List$/;

function sourceComment(doc: Document): string | undefined {
  // After "---" the comment belongs to the document; at the start of a file, to its first node.
  const contents = doc.contents as { commentBefore?: string | null } | null;
  const text = `${doc.commentBefore ?? ""}\n${contents?.commentBefore ?? ""}`;
  return /(?:^|\n)\s*Source:\s*(\S+)/.exec(text)?.[1];
}

/**
 * Every object in `text`. Empty documents are skipped; a `kind: …List` with `items` yields
 * its items. Throws GuardError("manifest") naming file and line for bad YAML or a document
 * that is not an object.
 */
export function readDocuments(text: string, file: string): SourceDocument[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: SourceDocument[] = [];
  for (const doc of list) {
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      const pos = lineCounter.linePos(e.pos[0]);
      throw new GuardError("manifest", `${file}:${pos.line}: ${e.message.split("\n")[0]}`);
    }
    const converted = documentToJs(doc);
    const start = doc.contents?.range?.[0] ?? doc.range[0];
    const line = lineCounter.linePos(start).line;
    if (!converted.ok) throw new GuardError("manifest", `${file}:${line}: ${converted.error}`);
    const value = converted.value;
    if (value === null || value === undefined) continue;
    if (!isRecord(value))
      throw new GuardError(
        "manifest",
        `${file}:${line}: a document must be an object, not ${Array.isArray(value) ? "a list" : typeof value}`,
      );
    const template = sourceComment(doc);
    const items = value["items"];
    if (typeof value["kind"] === "string" && LIST_KINDS.test(value["kind"]) && Array.isArray(items)) {
      const seq = isMap(doc.contents) ? doc.contents.get("items", true) : undefined;
      items.forEach((item: unknown, i) => {
        const node = isSeq(seq) ? seq.items[i] : undefined;
        const at =
          node && typeof node === "object" && "range" in node && Array.isArray(node.range)
            ? lineCounter.linePos(node.range[0] as number).line
            : line;
        if (!isRecord(item)) throw new GuardError("manifest", `${file}:${at}: items[${i}] must be an object`);
        out.push({ file, line: at, template, value: item });
      });
      continue;
    }
    out.push({ file, line, template, value });
  }
  return out;
}

const DOCUMENT_FILE = /\.(ya?ml|json)$/i;

/** The YAML/JSON files under `p`: the file itself, or every one below a directory, sorted by path. */
export function documentFiles(p: string, code: GuardError["code"]): string[] {
  let st;
  try {
    st = statSync(p);
  } catch (err) {
    throw new GuardError(code, `${p}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, {
      cause: err,
    });
  }
  if (!st.isDirectory()) return [p];
  return readdirSync(p, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => {
      const full = path.join(p, e.name);
      if (e.isDirectory()) return documentFiles(full, code);
      return e.isFile() && DOCUMENT_FILE.test(e.name) ? [full] : [];
    });
}

/** Every document of every file under `paths`; errors are GuardErrors of `code` naming file and line. */
export function readDocumentFiles(paths: readonly string[], code: GuardError["code"]): SourceDocument[] {
  return paths
    .flatMap((p) => documentFiles(p, code))
    .flatMap((file) => {
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (err) {
        throw new GuardError(
          code,
          `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
          { cause: err },
        );
      }
      try {
        return readDocuments(text, file);
      } catch (err) {
        if (err instanceof GuardError) throw new GuardError(code, err.message, { cause: err });
        throw err;
      }
    });
}
