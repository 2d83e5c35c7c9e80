// Finding which of many short keywords occur in a text, ignoring ASCII case, in one pass.
//
// This is what lets ingest keep storing most events exactly as they were sent: every detector
// names keywords that each of its matches contains, so an item whose bytes hold none of them
// cannot hold a secret the detectors would find, and is neither walked nor re-encoded. A
// JavaScript loop is the fastest way here (a RegExp alternation of the keywords, or one
// indexOf per keyword, each cost several times more per byte); the loop is a Wu–Manber search:
// it reads the pair of bytes at the end of a window as long as the shortest keyword and jumps
// ahead unless some keyword could end there, so it looks at about half the bytes.

/** Every keyword is at least this long: the window the search jumps by. */
export const MIN_KEYWORD_LENGTH = 3;

/** ASCII case folding: A–Z to a–z, every other byte as it is (UTF-8 bytes above 0x7f included). */
const FOLD = new Uint8Array(256);
for (let c = 0; c < 256; c++) FOLD[c] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;

export class KeywordError extends Error {
  readonly code = "bad-keyword";
  constructor(message: string) {
    super(message);
    this.name = "KeywordError";
  }
}

/**
 * A set of keywords, each tagged with a group number (the detector it belongs to), searched in
 * bytes (raw JSON) or in a string, case-insensitively for ASCII letters.
 */
export class KeywordSet {
  /** How far the window may jump for the byte pair ending it (raw bytes, every case variant). */
  private readonly shift = new Uint8Array(65536);
  /** For a pair that can end a keyword's first window: the keywords to compare, by index. */
  private readonly candidates = new Map<number, number[]>();
  private readonly folded: Uint8Array[];
  private readonly groups: number[];

  /** `keywords[i]` belongs to group `groups[i]`; keywords are ASCII, MIN_KEYWORD_LENGTH or longer. */
  constructor(keywords: readonly string[], groups: readonly number[]) {
    if (keywords.length !== groups.length) throw new KeywordError("one group per keyword");
    this.folded = keywords.map((k) => {
      if (k.length < MIN_KEYWORD_LENGTH || !/^[\x20-\x7e]+$/.test(k))
        throw new KeywordError(
          `keyword ${JSON.stringify(k)}: needs at least ${MIN_KEYWORD_LENGTH} printable ASCII characters`,
        );
      return Uint8Array.from(Buffer.from(k, "latin1"), (c) => FOLD[c]!);
    });
    this.groups = [...groups];
    const m = MIN_KEYWORD_LENGTH;
    this.shift.fill(m - 1);
    this.folded.forEach((k, index) => {
      // The pair ending at position j of the keyword's first m bytes lets the window jump m-1-j.
      for (let j = 1; j < m; j++) {
        for (const pair of casePairs(k[j - 1]!, k[j]!)) {
          this.shift[pair] = Math.min(this.shift[pair]!, m - 1 - j);
          if (j === m - 1) {
            const list = this.candidates.get(pair);
            if (list === undefined) this.candidates.set(pair, [index]);
            else if (!list.includes(index)) list.push(index);
          }
        }
      }
    });
  }

  get size(): number {
    return this.folded.length;
  }

  /** Whether any keyword occurs in `bytes[start, end)`. */
  anyIn(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
    return this.searchBytes(bytes, start, end, undefined);
  }

  /** Marks in `hits` (indexed by group) the groups whose keywords occur in `text`; returns whether any did. */
  groupsIn(text: string, hits: Uint8Array): boolean {
    return this.searchString(text, hits);
  }

  private searchBytes(b: Uint8Array, start: number, end: number, hits: Uint8Array | undefined): boolean {
    const last = MIN_KEYWORD_LENGTH - 1;
    const shift = this.shift;
    let found = false;
    for (let i = start + last; i < end;) {
      const pair = (b[i - 1]! << 8) | b[i]!;
      const s = shift[pair]!;
      if (s > 0) {
        i += s;
        continue;
      }
      for (const index of this.candidates.get(pair)!) {
        if (this.matchesBytes(b, i - last, end, index)) {
          if (hits === undefined) return true;
          hits[this.groups[index]!] = 1;
          found = true;
        }
      }
      i++;
    }
    return found;
  }

  private searchString(t: string, hits: Uint8Array): boolean {
    const last = MIN_KEYWORD_LENGTH - 1;
    const shift = this.shift;
    const end = t.length;
    let found = false;
    for (let i = last; i < end;) {
      const a = t.charCodeAt(i - 1);
      const c = t.charCodeAt(i);
      // Characters beyond Latin-1 never take part in a keyword.
      const s = a > 0xff || c > 0xff ? last : shift[(a << 8) | c]!;
      if (s > 0) {
        i += s;
        continue;
      }
      for (const index of this.candidates.get((a << 8) | c)!) {
        if (this.matchesString(t, i - last, index)) {
          hits[this.groups[index]!] = 1;
          found = true;
        }
      }
      i++;
    }
    return found;
  }

  private matchesBytes(b: Uint8Array, at: number, end: number, index: number): boolean {
    const k = this.folded[index]!;
    if (at + k.length > end) return false;
    for (let j = 0; j < k.length; j++) if (FOLD[b[at + j]!] !== k[j]) return false;
    return true;
  }

  private matchesString(t: string, at: number, index: number): boolean {
    const k = this.folded[index]!;
    if (at + k.length > t.length) return false;
    for (let j = 0; j < k.length; j++) {
      const c = t.charCodeAt(at + j);
      if (c > 0xff || FOLD[c] !== k[j]) return false;
    }
    return true;
  }
}

/** The raw byte pairs that fold to (a, b): both cases of each ASCII letter. */
function casePairs(a: number, b: number): number[] {
  const variants = (c: number): number[] => (c >= 0x61 && c <= 0x7a ? [c, c & ~0x20] : [c]);
  return variants(a).flatMap((x) => variants(b).map((y) => (x << 8) | y));
}
