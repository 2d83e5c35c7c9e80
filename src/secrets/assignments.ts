// `name = value` inside free text, where `name` calls the value a credential: config files held
// in a ConfigMap (`db.password=…`, `client_secret: …`, `"apiKey": "…"`), connection strings
// (`…;Password=…;`), URL query strings (`?access_token=…&`), HTTP headers (`X-Api-Key: …`),
// shell lines (`export GITHUB_TOKEN=…`) and command lines (`--token …`).
//
// Found by hand from the occurrences of the names' keywords, not with one regular expression:
// each occurrence is looked at once, with bounded reach, so a hostile multi-megabyte text costs
// linear time.
import type { KeyClass } from "./credential-keys.js";
import type { Span } from "./formats.js";

export interface Assignment extends Span {
  /** The name the value was assigned to. */
  name: string;
  kind: KeyClass;
}

const MAX_NAME = 64;
const MAX_VALUE = 1024;
/** Characters by what they are to this scanner (a table: a RegExp test per character costs too much). */
const NAME = 1;
const BARE_END = 2;
const CHAR_CLASS = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
  CHAR_CLASS[c.charCodeAt(0)] = NAME;
for (const c of " \t\n\r\f\v\"'`\\,;&<>)}]") CHAR_CLASS[c.charCodeAt(0)] = BARE_END;
const isName = (text: string, i: number): boolean => CHAR_CLASS[text.charCodeAt(i)] === NAME;
/** Where a bare (unquoted) value ends: whitespace, quotes, separators, closing brackets. */
const endsBare = (text: string, i: number): boolean => CHAR_CLASS[text.charCodeAt(i)] === BARE_END;

/** ASCII-only lowercase, so offsets in the folded text are offsets in the text. */
export function foldAscii(text: string): string {
  return text.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

/**
 * The values assigned to credential-like names in `text`, at most `limit` + 1 of them (the
 * caller treats more than `limit` as "the whole text"). `folded` is foldAscii(text);
 * `keywords` are lowercase strings every credential-like name contains; `classify` decides.
 */
export function findAssignments(
  text: string,
  folded: string,
  keywords: readonly string[],
  classify: (name: string) => KeyClass | undefined,
  limit: number,
): Assignment[] {
  const found: Assignment[] = [];
  const seen = new Set<number>();
  for (const keyword of keywords) {
    for (let at = folded.indexOf(keyword); at >= 0; at = folded.indexOf(keyword, at + keyword.length)) {
      let start = at;
      while (start > 0 && at - start < MAX_NAME && isName(text, start - 1)) start--;
      if (seen.has(start)) continue;
      seen.add(start);
      let end = at + keyword.length;
      while (end < text.length && end - start < MAX_NAME && isName(text, end)) end++;
      const name = text.slice(start, end);
      const kind = classify(name);
      if (kind === undefined) continue;
      const value = valueAfter(text, end, name.startsWith("-"));
      if (value !== undefined) found.push({ ...value, name, kind });
      if (found.length > limit) return found;
    }
  }
  return found;
}

/** The value assigned right after a name that ends at `i`, or undefined when no assignment follows. */
function valueAfter(text: string, i: number, isFlag: boolean): Span | undefined {
  // The name's closing quote, when the name was quoted ("password": …, \"password\": …).
  if (text[i] === "\\" && (text[i + 1] === '"' || text[i + 1] === "'")) i += 2;
  else if (text[i] === '"' || text[i] === "'") i++;
  const afterName = i;
  while (text[i] === " " || text[i] === "\t") i++;
  // The name of a {"name": …, "value": …} pair (an env var in a manifest held as JSON text).
  const pair = /^,[ \t]*(\\?)"value\1"[ \t]*:[ \t]*/.exec(text.slice(i, i + 24));
  if (pair !== null && afterName > 0 && (text[afterName - 1] === '"' || text[afterName - 1] === "'"))
    i += pair[0].length;
  else if (text.startsWith(":=", i) || text.startsWith("=>", i)) i += 2;
  else if (text[i] === "=") i++;
  else if (text[i] === ":" && !text.startsWith("://", i)) i++;
  else if (isFlag && text[i] === ",")
    i++; // ["--token", "VALUE"] in JSON text
  else if (!(isFlag && i > afterName)) return undefined; // `--token VALUE`
  while (text[i] === " " || text[i] === "\t") i++;
  const escaped = text[i] === "\\" && (text[i + 1] === '"' || text[i + 1] === "'");
  const quote = escaped ? text[i + 1] : text[i];
  if (quote === '"' || quote === "'" || quote === "`") {
    const open = i + (escaped ? 2 : 1);
    const closing = escaped ? `\\${quote}` : quote;
    let close = open;
    for (; close < text.length && close - open <= MAX_VALUE; close++) {
      if (text[close] === "\n") return undefined;
      if (text.startsWith(closing, close) && (escaped || text[close - 1] !== "\\")) break;
    }
    if (close >= text.length || close - open > MAX_VALUE || close === open) return undefined;
    return { start: open, end: close };
  }
  let end = i;
  // A reference such as ${DB_PASSWORD} or {{ .Values.token }} is one value, braces included.
  const closer = text.startsWith("${", i)
    ? "}"
    : text.startsWith("$(", i)
      ? ")"
      : text.startsWith("{{", i)
        ? "}}"
        : "";
  if (closer !== "") {
    const close = text.indexOf(closer, i + 2);
    if (close >= 0 && close - i <= MAX_VALUE) end = close + closer.length;
  }
  while (end < text.length && end - i < MAX_VALUE && !endsBare(text, end)) end++;
  return end > i ? { start: i, end } : undefined;
}
