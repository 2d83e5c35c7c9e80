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
 * Told about a keyword found in bytes at [start, end) of `bytes[from, to)`: whether that
 * occurrence counts (e.g. a name's keyword only when something is assigned to the name).
 */
export type Confirm = (bytes: Uint8Array, start: number, end: number, from: number, to: number) => boolean;

/**
 * A set of keywords, each tagged with a group number (the detector it belongs to), searched in
 * bytes (raw JSON) or in a string, case-insensitively for ASCII letters.
 */
export class KeywordSet {
  /** How far the window may jump for the byte pair ending it (raw bytes, every case variant). */
  private readonly shift = new Uint8Array(65536);
  /** Keywords to compare, by the hash of a keyword's first window (raw bytes, every case variant). */
  private readonly candidates: (Int32Array | undefined)[] = new Array<Int32Array | undefined>(65536);
  private readonly folded: Uint8Array[];
  private readonly groups: number[];
  private readonly confirm: (Confirm | undefined)[];

  /**
   * `keywords[i]` belongs to group `groups[i]`; keywords are ASCII, MIN_KEYWORD_LENGTH or longer.
   * `confirm[i]`, when given, must also accept an occurrence found in bytes (see Confirm).
   */
  constructor(
    keywords: readonly string[],
    groups: readonly number[],
    confirm: readonly (Confirm | undefined)[] = [],
  ) {
    if (keywords.length !== groups.length) throw new KeywordError("one group per keyword");
    this.folded = keywords.map((k) => {
      if (k.length < MIN_KEYWORD_LENGTH || !/^[\x20-\x7e]+$/.test(k))
        throw new KeywordError(
          `keyword ${JSON.stringify(k)}: needs at least ${MIN_KEYWORD_LENGTH} printable ASCII characters`,
        );
      return Uint8Array.from(Buffer.from(k, "latin1"), (c) => FOLD[c]!);
    });
    this.groups = [...groups];
    this.confirm = keywords.map((_, i) => confirm[i]);
    this.shift.fill(MIN_KEYWORD_LENGTH - 1);
    const lists = new Map<number, number[]>();
    this.folded.forEach((k, index) => {
      const [a, b, c] = [cases(k[0]!), cases(k[1]!), cases(k[2]!)];
      // The pair ending at position j of the first window lets the window jump 2-j.
      for (const x of a) for (const y of b) this.shift[(x << 8) | y] = Math.min(this.shift[(x << 8) | y]!, 1);
      for (const y of b) for (const z of c) this.shift[(y << 8) | z] = 0;
      for (const x of a)
        for (const y of b)
          for (const z of c) {
            const h = windowHash(x, y, z);
            const list = lists.get(h) ?? [];
            if (!list.includes(index)) list.push(index);
            lists.set(h, list);
          }
    });
    for (const [h, list] of lists) this.candidates[h] = Int32Array.from(list);
  }

  get size(): number {
    return this.folded.length;
  }

  /** Whether any keyword occurs in `bytes[start, end)` (and its Confirm, if any, accepts it). */
  anyIn(b: Uint8Array, start = 0, end = b.length): boolean {
    const shift = this.shift;
    const candidates = this.candidates;
    for (let i = start + 2; i < end;) {
      const s = shift[(b[i - 1]! << 8) | b[i]!]!;
      if (s > 0) {
        i += s;
        continue;
      }
      const list = candidates[windowHash(b[i - 2]!, b[i - 1]!, b[i]!)];
      if (list !== undefined && this.confirmedIn(b, i - 2, start, end, list)) return true;
      i++;
    }
    return false;
  }

  private confirmedIn(b: Uint8Array, at: number, from: number, to: number, list: Int32Array): boolean {
    for (let n = 0; n < list.length; n++) {
      const k = this.folded[list[n]!]!;
      if (at + k.length > to) continue;
      let j = 0;
      while (j < k.length && FOLD[b[at + j]!] === k[j]) j++;
      if (j < k.length) continue;
      const confirm = this.confirm[list[n]!];
      if (confirm === undefined || confirm(b, at, at + k.length, from, to)) return true;
    }
    return false;
  }

  /**
   * Marks in `hits` (indexed by group) the groups whose keywords occur in `text`, Confirm
   * aside; returns whether any did.
   */
  groupsIn(t: string, hits: Uint8Array): boolean {
    const shift = this.shift;
    const candidates = this.candidates;
    let found = false;
    for (let i = 2; i < t.length;) {
      const x = t.charCodeAt(i - 1);
      const y = t.charCodeAt(i);
      // Characters beyond Latin-1 never take part in a keyword.
      const s = x > 0xff || y > 0xff ? 2 : shift[(x << 8) | y]!;
      if (s > 0) {
        i += s;
        continue;
      }
      const w = t.charCodeAt(i - 2);
      const list = w > 0xff ? undefined : candidates[windowHash(w, x, y)];
      for (let n = 0; list !== undefined && n < list.length; n++) {
        const k = this.folded[list[n]!]!;
        const at = i - 2;
        if (at + k.length > t.length) continue;
        let j = 0;
        while (j < k.length && FOLD[t.charCodeAt(at + j) & 0xff] === k[j] && t.charCodeAt(at + j) <= 0xff)
          j++;
        if (j === k.length) {
          hits[this.groups[list[n]!]!] = 1;
          found = true;
        }
      }
      i++;
    }
    return found;
  }
}

/** A 16-bit hash of three bytes: where a keyword's first window is looked up. */
function windowHash(a: number, b: number, c: number): number {
  return ((a << 10) ^ (b << 5) ^ c) & 0xffff;
}

/** A folded byte and, for a letter, its uppercase. */
function cases(c: number): number[] {
  return c >= 0x61 && c <= 0x7a ? [c, c & ~0x20] : [c];
}
