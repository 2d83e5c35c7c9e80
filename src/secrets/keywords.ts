// Finding which of many short keywords occur in a text, ignoring ASCII case, in one pass.
//
// This is what lets ingest keep storing most events exactly as they were sent: every detector
// names keywords that each of its matches contains, so an item whose bytes hold none of them
// cannot hold a secret the detectors would find, and is neither walked nor re-encoded. A
// JavaScript loop is the fastest way here (a RegExp alternation of the keywords, or one
// indexOf per keyword, each cost several times more per byte). It is a Wu–Manber search over
// each keyword's anchor, its four characters least common in audit events (`ecre` of
// `secret`, not `sec`, which every `secrets` request has): the loop reads the pair of bytes
// ending a four-byte window and jumps up to three bytes ahead unless some anchor could end
// there, then compares whole keywords only where a window hashes like an anchor.
import { SecretsError } from "./errors.js";

/** Every keyword is at least this long: the window the search jumps by. */
export const MIN_KEYWORD_LENGTH = 4;
const M = MIN_KEYWORD_LENGTH;

/** ASCII case folding: A–Z to a–z, every other byte as it is (UTF-8 bytes above 0x7f included). */
const FOLD = new Uint8Array(256);
for (let c = 0; c < 256; c++) FOLD[c] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;

/**
 * How common a character is in audit events, 0 (rare) to 3: the commonest letters of English
 * (names and messages are English words), and the punctuation of JSON, paths and names.
 * (Finer English letter frequencies chose worse anchors: Kubernetes words are not prose.)
 */
const COMMONNESS = new Uint8Array(256);
for (const [chars, weight] of [
  ['etaoinsrlcdum"/:,.-', 3],
  ["pgbhfvykw{}0123456789 ", 2],
] as const) {
  for (const c of chars) COMMONNESS[c.charCodeAt(0)] = weight;
}

export class KeywordError extends SecretsError {
  constructor(message: string) {
    super("bad-keyword", message);
  }
}

/**
 * Told about a keyword found in bytes at [start, end) of `bytes[from, to)`: whether that
 * occurrence counts (e.g. a name's keyword only when something is assigned to the name).
 */
export type Confirm = (bytes: Uint8Array, start: number, end: number, from: number, to: number) => boolean;

/** The keyword's window of M characters least common in audit events: where it is looked for. */
function anchorOf(k: Uint8Array): number {
  let best = 0;
  let bestScore = Infinity;
  for (let o = 0; o + M <= k.length; o++) {
    let score = 0;
    for (let j = o; j < o + M; j++) score += COMMONNESS[k[j]!]!;
    if (score < bestScore) [best, bestScore] = [o, score];
  }
  return best;
}

/**
 * A set of keywords, each tagged with a group number (the detector it belongs to), searched in
 * bytes (raw JSON) or in a string, case-insensitively for ASCII letters.
 */
export class KeywordSet {
  // The search reads `shift` at every step; the candidate lists only where a window may be an
  // anchor. Flat typed arrays: nothing for the garbage collector to trace in a worker's heap.
  /**
   * How far the window may jump for the byte pair ending it (every case variant), by pairIndex.
   * A pair with a byte above 0x7f (UTF-8) is never in a keyword: those jump the most.
   */
  private readonly shift = new Uint8Array(1 << 16);
  /** Bit h: some anchor's window hashes to h (see windowHash). */
  private readonly anchorHashes = new Uint8Array(65536 / 8);
  /**
   * Keywords to compare, by the hash h of the window an anchor fills (raw bytes, every case
   * variant): `candidates[listStart[h], listEnd[h])`.
   */
  private readonly listStart = new Int32Array(65536 + 1);
  private readonly listEnd: Int32Array;
  private readonly candidates: Int32Array;
  private readonly folded: Uint8Array[];
  /** Where each keyword's anchor starts in it. */
  private readonly anchors: Int32Array;
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
      if (k.length < M || !/^[\x20-\x7e]+$/.test(k))
        throw new KeywordError(
          `keyword ${JSON.stringify(k)}: needs at least ${M} printable ASCII characters`,
        );
      return Uint8Array.from(Buffer.from(k, "latin1"), (c) => FOLD[c]!);
    });
    this.anchors = Int32Array.from(this.folded, anchorOf);
    this.groups = [...groups];
    this.confirm = keywords.map((_, i) => confirm[i]);
    this.shift.fill(M - 1);
    // Each keyword's anchor windows, as (hash, keyword) pairs: counted, then laid out by hash.
    const hashes: number[] = [];
    const owners: number[] = [];
    this.folded.forEach((k, index) => {
      const a = this.anchors[index]!;
      const chars = [0, 1, 2, 3].map((j) => cases(k[a + j]!));
      // The pair ending at position j of the anchor lets the window jump M-1-j.
      for (let j = 1; j < M; j++)
        for (const x of chars[j - 1]!)
          for (const y of chars[j]!) {
            const pair = pairIndex(x, y);
            this.shift[pair] = Math.min(this.shift[pair]!, M - 1 - j);
          }
      for (const w of chars[0]!)
        for (const x of chars[1]!)
          for (const y of chars[2]!)
            for (const z of chars[3]!) {
              hashes.push(windowHash(w, x, y, z));
              owners.push(index);
            }
    });
    const count = new Int32Array(65536);
    for (const h of hashes) count[h]!++;
    for (let h = 0; h < 65536; h++) this.listStart[h + 1] = this.listStart[h]! + count[h]!;
    const fill = this.listStart.slice(0, 65536);
    const list = new Int32Array(hashes.length);
    hashes.forEach((h, n) => {
      // A keyword's case variants may share a hash: it is listed there once (its pairs are consecutive).
      if (fill[h]! > this.listStart[h]! && list[fill[h]! - 1] === owners[n]) return;
      list[fill[h]!++] = owners[n]!;
      this.anchorHashes[h >> 3]! |= 1 << (h & 7);
    });
    // A keyword listed once where its variants share a hash leaves slots unused: each list ends where it was filled to.
    this.candidates = list;
    this.listEnd = fill;
  }

  get size(): number {
    return this.folded.length;
  }

  /** Whether any keyword occurs in `bytes[start, end)` (and its Confirm, if any, accepts it). */
  anyIn(b: Uint8Array, start = 0, end = b.length): boolean {
    const shift = this.shift;
    const anchorHashes = this.anchorHashes;
    const full = M - 1;
    const last = end - 2 * full;
    for (let i = start + full; i < end;) {
      let s = shift[pairIndex(b[i - 1]!, b[i]!)]!;
      // Most windows hold no anchor's end: up to three of them per turn.
      if (s === full && i < last) {
        i += full;
        s = shift[pairIndex(b[i - 1]!, b[i]!)]!;
        if (s === full) {
          i += full;
          s = shift[pairIndex(b[i - 1]!, b[i]!)]!;
        }
      }
      if (s > 0) {
        i += s;
        continue;
      }
      const h = windowHash(b[i - 3]!, b[i - 2]!, b[i - 1]!, b[i]!);
      if ((anchorHashes[h >> 3]! & (1 << (h & 7))) !== 0 && this.confirmedIn(b, i - 3, start, end, h))
        return true;
      i++;
    }
    return false;
  }

  /** Whether a keyword listed under window hash `h` whose anchor is at `at` occurs there and is confirmed. */
  private confirmedIn(b: Uint8Array, at: number, from: number, to: number, h: number): boolean {
    const list = this.candidates;
    for (let n = this.listStart[h]!, last = this.listEnd[h]!; n < last; n++) {
      const index = list[n]!;
      const k = this.folded[index]!;
      const start = at - this.anchors[index]!;
      if (start < from || start + k.length > to) continue;
      let j = 0;
      while (j < k.length && FOLD[b[start + j]!] === k[j]) j++;
      if (j < k.length) continue;
      const confirm = this.confirm[index];
      if (confirm === undefined || confirm(b, start, start + k.length, from, to)) return true;
    }
    return false;
  }

  /**
   * Marks in `hits` (indexed by group) the groups whose keywords occur in `text`, Confirm
   * aside; returns whether any did.
   */
  groupsIn(t: string, hits: Uint8Array): boolean {
    const shift = this.shift;
    const { candidates, listStart, listEnd } = this;
    let found = false;
    for (let i = M - 1; i < t.length;) {
      const x = t.charCodeAt(i - 1);
      const y = t.charCodeAt(i);
      // Characters beyond Latin-1 never take part in a keyword.
      const s = x > 0xff || y > 0xff ? M - 1 : shift[pairIndex(x, y)]!;
      if (s > 0) {
        i += s;
        continue;
      }
      const v = t.charCodeAt(i - 3);
      const w = t.charCodeAt(i - 2);
      const h = v > 0xff || w > 0xff ? -1 : windowHash(v, w, x, y);
      for (let n = h < 0 ? 0 : listStart[h]!, last = h < 0 ? 0 : listEnd[h]!; n < last; n++) {
        const index = candidates[n]!;
        const k = this.folded[index]!;
        const start = i - 3 - this.anchors[index]!;
        if (start < 0 || start + k.length > t.length) continue;
        let j = 0;
        while (j < k.length && t.charCodeAt(start + j) <= 0xff && FOLD[t.charCodeAt(start + j)] === k[j]) j++;
        if (j === k.length) {
          hits[this.groups[index]!] = 1;
          found = true;
        }
      }
      i++;
    }
    return found;
  }
}

/** Where the pair of bytes (or Latin-1 characters) x, y is in KeywordSet's shift table. */
function pairIndex(x: number, y: number): number {
  return (x << 8) | y;
}

/** A 16-bit hash of four bytes: where an anchor's window is looked up. */
function windowHash(a: number, b: number, c: number, d: number): number {
  return ((a << 12) ^ (b << 8) ^ (c << 4) ^ d ^ (a >> 4)) & 0xffff;
}

/** A folded byte and, for a letter, its uppercase. */
function cases(c: number): number[] {
  return c >= 0x61 && c <= 0x7a ? [c, c & ~0x20] : [c];
}
