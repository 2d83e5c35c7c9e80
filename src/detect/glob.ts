// Wildcard patterns as Sigma and the allow-lists write them: `*` any run, `?` one character,
// a backslash escapes the next wildcard or backslash.

export interface ParsedGlob {
  /** True when the pattern contains an unescaped wildcard. */
  wild: boolean;
  /** The pattern with escapes resolved; meaningful only when `wild` is false. */
  literal: string;
  /** Regex source (unanchored) equivalent to the pattern. */
  source: string;
}

export function parseGlob(pattern: string): ParsedGlob {
  let wild = false;
  let literal = "";
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === "\\") {
      const next = pattern[i + 1];
      if (next === "*" || next === "?" || next === "\\") {
        literal += next;
        source += escapeRegex(next);
        i++;
        continue;
      }
      literal += c;
      source += escapeRegex(c);
    } else if (c === "*") {
      wild = true;
      source += "[\\s\\S]*";
    } else if (c === "?") {
      wild = true;
      source += "[\\s\\S]";
    } else {
      literal += c;
      source += escapeRegex(c);
    }
  }
  return { wild, literal, source };
}

export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** A case-sensitive whole-string matcher for allow-list entries. */
export function globMatcher(pattern: string): (value: string) => boolean {
  const glob = parseGlob(pattern);
  if (!glob.wild) return (value) => value === glob.literal;
  const re = new RegExp(`^${glob.source}$`);
  return (value) => re.test(value);
}
