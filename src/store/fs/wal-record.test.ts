import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  decodeRecordHeader,
  encodeRecordHeader,
  payloadMatches,
  RECORD_HEADER_BYTES,
  replaySteps,
  type RecordHeader,
} from "./wal-record.js";
import { reportSeed, seedFromEnv } from "../../../test/fixtures/seed.js";

const bytes = (s: string) => Buffer.from(s);

/** A header as a recovery would find it; only seq, first and count matter to replaySteps. */
const rec = (seq: number, first: number, count: number): RecordHeader => ({
  seq,
  first,
  count,
  length: 2 * count,
  payloadCrc: 0,
});

/** Steps as [seq, start, end] triples, easy to compare. */
const triples = (steps: ReturnType<typeof replaySteps>) => steps.map((s) => [s.record.seq, s.start, s.end]);

/** XORs byte `at` of `buf` with `mask`. */
function flip(buf: Buffer, at: number, mask: number): void {
  buf.writeUInt8(buf.readUInt8(at) ^ mask, at);
}

/** Re-signs bytes 8–39 after a test has edited them, so only the edited field is wrong. */
function resign(h: Buffer): Buffer {
  h.writeUInt32LE(crc32(h.subarray(8)), 4);
  return h;
}

describe("wal record header", () => {
  it("round-trips seq, first, count, length and the payload CRC, also above 2^32", () => {
    const payload = bytes("alpha\nbeta\ngamma\n");
    for (const [seq, first] of [
      [0, 0],
      [1, 7],
      [2 ** 32 + 3, 2 ** 32 - 1],
      [2 ** 40 + 12345, 2 ** 33 + 1],
      [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 3],
    ] as const) {
      const h = encodeRecordHeader(seq, first, 3, payload);
      expect(h.length).toBe(RECORD_HEADER_BYTES);
      expect(decodeRecordHeader(h)).toEqual({
        seq,
        first,
        count: 3,
        length: payload.length,
        payloadCrc: crc32(payload),
      });
    }
  });

  it("lays the header out as documented: magic, header CRC, little-endian fields, zero tail", () => {
    // "123456789" is the standard CRC-32 check input: its CRC is 0xCBF43926.
    const payload = bytes("123456789");
    const h = encodeRecordHeader(0x01020304050607, 0x0a0b0c0d0e0f10, 4, payload);
    expect(h.subarray(0, 4).toString("latin1")).toBe("KTW1");
    expect(h.subarray(8).toString("hex")).toBe(
      [
        "0706050403020100", // 8  seq
        "100f0e0d0c0b0a00", // 16 first
        "04000000", // 24 count
        "09000000", // 28 length
        "2639f4cb", // 32 payload CRC 0xCBF43926
        "00000000", // 36 zero
      ].join(""),
    );
    expect(h.readUInt32LE(4)).toBe(crc32(h.subarray(8, 40)));
    // The payload CRC field holds the standard CRC-32 (not some other polynomial).
    expect(decodeRecordHeader(h)?.payloadCrc).toBe(0xcbf43926);
  });

  it("decodes a header inside a larger buffer and from a plain Uint8Array", () => {
    const payload = bytes("x\ny\n");
    const h = encodeRecordHeader(5, 9, 2, payload);
    const big = Buffer.alloc(100, 0xee);
    h.copy(big, 13);
    const expected = { seq: 5, first: 9, count: 2, length: 4, payloadCrc: crc32(payload) };
    expect(decodeRecordHeader(big.subarray(13))).toEqual(expected);
    expect(decodeRecordHeader(new Uint8Array(h))).toEqual(expected);
  });

  it("finds no header in fewer than 40 bytes, zeroed space or bytes with another magic", () => {
    const h = encodeRecordHeader(1, 2, 1, bytes("a\n"));
    expect(decodeRecordHeader(h.subarray(0, RECORD_HEADER_BYTES - 1))).toBeNull();
    expect(decodeRecordHeader(new Uint8Array(0))).toBeNull();
    expect(decodeRecordHeader(Buffer.alloc(RECORD_HEADER_BYTES))).toBeNull();
    expect(decodeRecordHeader(Buffer.alloc(4096))).toBeNull();
    for (let byte = 0; byte < 4; byte++) {
      const bad = Buffer.from(h);
      flip(bad, byte, 0x20); // "ktw1", "KtW1", ...: still no match
      expect(decodeRecordHeader(bad)).toBeNull();
    }
    const other = Buffer.from(h);
    other.write("KTW2", 0, "latin1");
    expect(decodeRecordHeader(other)).toBeNull();
  });

  it("rejects a header with any single bit flipped in bytes 4–39 (the header CRC covers 8–39)", () => {
    const h = encodeRecordHeader(2 ** 35 + 17, 123456, 4, bytes("aa\nbb\ncc\ndd\n"));
    expect(decodeRecordHeader(h)).not.toBeNull();
    let flips = 0;
    for (let byte = 4; byte < RECORD_HEADER_BYTES; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = Buffer.from(h);
        flip(bad, byte, 1 << bit);
        expect(decodeRecordHeader(bad), `byte ${byte} bit ${bit}`).toBeNull();
        flips++;
      }
    }
    expect(flips).toBe(36 * 8);
  });

  it("rejects values no writer produces even when the header CRC matches", () => {
    // count 0
    expect(decodeRecordHeader(encodeRecordHeader(1, 2, 0, bytes("")))).toBeNull();
    expect(decodeRecordHeader(encodeRecordHeader(1, 2, 0, bytes("a\n")))).toBeNull();
    // fewer payload bytes than `count` non-empty lines need
    expect(decodeRecordHeader(encodeRecordHeader(1, 2, 3, bytes("a\nb\n")))).toBeNull();
    expect(decodeRecordHeader(encodeRecordHeader(1, 2, 2, bytes("a\nb\n")))).not.toBeNull();
    // seq or first beyond what a JS number holds exactly
    const h = encodeRecordHeader(1, 2, 1, bytes("a\n"));
    const bigSeq = Buffer.from(h);
    bigSeq.writeBigUInt64LE(2n ** 53n, 8);
    expect(decodeRecordHeader(resign(bigSeq))).toBeNull();
    const bigFirst = Buffer.from(h);
    bigFirst.writeBigUInt64LE(2n ** 64n - 1n, 16);
    expect(decodeRecordHeader(resign(bigFirst))).toBeNull();
    // resign itself keeps a valid header valid
    expect(decodeRecordHeader(resign(Buffer.from(h)))).not.toBeNull();
  });
});

describe("wal record payload", () => {
  it("matches the payload as written and nothing else", () => {
    const payload = bytes('{"a":1}\n{"b":2}\n');
    const h = decodeRecordHeader(encodeRecordHeader(0, 0, 2, payload))!;
    expect(payloadMatches(h, payload)).toBe(true);
    expect(payloadMatches(h, Buffer.from(payload))).toBe(true);
    for (let i = 0; i < payload.length; i++) {
      const changed = Buffer.from(payload);
      flip(changed, i, 0x01);
      expect(payloadMatches(h, changed), `byte ${i}`).toBe(false);
    }
    expect(payloadMatches(h, payload.subarray(0, payload.length - 1))).toBe(false);
    expect(payloadMatches(h, Buffer.concat([payload, bytes("\n")]))).toBe(false);
    expect(payloadMatches(h, Buffer.alloc(payload.length))).toBe(false);
  });
});

describe("replaySteps", () => {
  it("returns nothing for no records", () => {
    expect(replaySteps([], 0)).toEqual([]);
    expect(replaySteps([], 42)).toEqual([]);
  });

  it("skips records that end at or before `from` (stale records in reused space)", () => {
    const records = [rec(3, 0, 4), rec(4, 4, 4), rec(5, 8, 2), rec(6, 10, 3), rec(1, 2, 8)];
    expect(triples(replaySteps(records, 10))).toEqual([[6, 10, 13]]);
    expect(triples(replaySteps(records, 13))).toEqual([]);
    // Stale leftovers with seqs below and above the live ones change nothing.
    const withStale = [rec(0, 0, 2), ...records, rec(2, 6, 4)];
    expect(triples(replaySteps(withStale, 10))).toEqual([[6, 10, 13]]);
  });

  it("starts a record that spans `from` at `from`", () => {
    expect(replaySteps([rec(0, 5, 10)], 10)).toEqual([{ record: rec(0, 5, 10), start: 10, end: 15 }]);
    expect(triples(replaySteps([rec(0, 0, 5), rec(1, 5, 10), rec(2, 15, 1)], 7))).toEqual([
      [1, 7, 15],
      [2, 15, 16],
    ]);
  });

  it("leaves out a record after a gap and everything that only chains from it", () => {
    const records = [rec(0, 0, 5), rec(1, 7, 2), rec(2, 9, 3), rec(3, 12, 1)];
    expect(triples(replaySteps(records, 0))).toEqual([[0, 0, 5]]);
    // A record filling the gap later (higher seq) does not bring back what was left out.
    expect(triples(replaySteps([...records, rec(4, 5, 2)], 0))).toEqual([
      [0, 0, 5],
      [4, 5, 7],
    ]);
    // The first record itself can be past `from`.
    expect(triples(replaySteps([rec(0, 3, 2)], 2))).toEqual([]);
  });

  it("lets a later record starting inside the chosen entries replace that tail", () => {
    const base = [rec(0, 0, 10), rec(1, 10, 10)];
    expect(triples(replaySteps([...base, rec(2, 15, 3)], 0))).toEqual([
      [0, 0, 10],
      [1, 10, 15],
      [2, 15, 18],
    ]);
    // Starting inside an earlier step drops every step after it and truncates it.
    expect(triples(replaySteps([...base, rec(2, 15, 3), rec(3, 5, 1)], 0))).toEqual([
      [0, 0, 5],
      [3, 5, 6],
    ]);
    // Starting exactly where a step starts replaces the whole step.
    expect(triples(replaySteps([...base, rec(2, 10, 2)], 0))).toEqual([
      [0, 0, 10],
      [2, 10, 12],
    ]);
    // A rewrite that spans `from` replaces everything chosen from `from` on.
    expect(triples(replaySteps([rec(0, 8, 7), rec(1, 8, 3)], 10))).toEqual([[1, 10, 11]]);
    // And the writer goes on after the rewrite.
    expect(triples(replaySteps([...base, rec(2, 5, 3), rec(3, 8, 4)], 0))).toEqual([
      [0, 0, 5],
      [2, 5, 8],
      [3, 8, 12],
    ]);
  });

  it("takes records in seq order, not in the order they are given, and leaves the input alone", () => {
    const inOrder = [rec(0, 0, 10), rec(1, 10, 10), rec(2, 15, 3)];
    const shuffled = [inOrder[2]!, inOrder[0]!, inOrder[1]!];
    const copy = shuffled.map((r) => ({ ...r }));
    expect(triples(replaySteps(shuffled, 0))).toEqual(triples(replaySteps(inOrder, 0)));
    expect(shuffled).toEqual(copy);
    // Given newest first, the older (longer) write must still be the one replaced.
    expect(triples(replaySteps([rec(7, 0, 3), rec(6, 0, 10)], 0))).toEqual([[7, 0, 3]]);
    // Given newest first, a record after a gap must not be chained by one written later.
    expect(triples(replaySteps([rec(9, 0, 5), rec(8, 5, 5)], 0))).toEqual([[9, 0, 5]]);
  });

  it("takes the steps' entries from the chosen records only, contiguously from `from`", () => {
    const records = [rec(0, 0, 4), rec(1, 4, 4), rec(2, 6, 5), rec(3, 11, 2), rec(4, 3, 1), rec(5, 4, 6)];
    for (let from = 0; from <= 12; from++) {
      const steps = replaySteps(records, from);
      let at = from;
      for (const s of steps) {
        expect(s.start).toBe(at);
        expect(s.end).toBeGreaterThan(s.start);
        expect(s.record.first).toBeLessThanOrEqual(s.start);
        expect(s.end).toBeLessThanOrEqual(s.record.first + s.record.count);
        at = s.end;
      }
    }
    expect(triples(replaySteps(records, 0))).toEqual([
      [0, 0, 3],
      [4, 3, 4],
      [5, 4, 10],
    ]);
  });

  it("does not bring back the tail of a failed write that a shorter rewrite, ending at or before `from`, replaced", () => {
    // A write of [8, 15) fails (its record is intact but it is never acknowledged); the next
    // commit writes [8, 10) again and is acknowledged; those 10 entries are then durable
    // elsewhere, so recovery asks for the entries after 10. None were ever acknowledged.
    expect(triples(replaySteps([rec(0, 8, 7), rec(1, 8, 2)], 10))).toEqual([]);
  });
});

// ---- property: a model writer ----

/** Deterministic PRNG (mulberry32), so a failure is reproducible. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

interface Model {
  /** Every record a recovery finds intact (before released space is reused). */
  records: RecordHeader[];
  /** seq of the record that holds each acknowledged entry. */
  acked: number[];
}

/**
 * Simulates the writer: commits of random size, each split into records of 1–3 entries.
 * A commit fails now and then after writing some of its records (each of them intact or
 * torn); the next attempt writes the same first index again with a new seq. With
 * `coverFailed`, an attempt has at least as many entries as the failed ones before it at
 * that index (a retry of the same entries); otherwise it may be shorter.
 */
function simulate(rnd: (n: number) => number, coverFailed: boolean): Model {
  const records: RecordHeader[] = [];
  const acked: number[] = [];
  let seq = 0;
  const commits = 1 + rnd(12);
  for (let c = 0; c < commits; c++) {
    const first = acked.length;
    let atLeast = 1;
    for (;;) {
      const n = coverFailed ? atLeast + rnd(4) : 1 + rnd(7);
      atLeast = Math.max(atLeast, n);
      const pieces: RecordHeader[] = [];
      for (let off = 0; off < n;) {
        const count = Math.min(n - off, 1 + rnd(3));
        pieces.push(rec(seq++, first + off, count));
        off += count;
      }
      if (rnd(4) === 0) {
        // Fails: some records reached the file, some of those torn (not found intact).
        const written = rnd(pieces.length + 1);
        for (const p of pieces.slice(0, written)) if (rnd(3) !== 0) records.push(p);
        continue;
      }
      records.push(...pieces);
      for (const p of pieces) for (let i = 0; i < p.count; i++) acked.push(p.seq);
      break;
    }
  }
  return { records, acked };
}

/**
 * Recovers from the model at a random point: entries before `released` were durable
 * elsewhere, so some records ending there may have been overwritten; `from` ≥ released.
 */
function checkRecovery(rnd: (n: number) => number, model: Model): void {
  const released = rnd(model.acked.length + 1);
  const from = released + rnd(model.acked.length - released + 1);
  const found = model.records.filter((r) => r.first + r.count > released || rnd(2) === 0);
  // The order records are found in says nothing: shuffle.
  for (let i = found.length - 1; i > 0; i--) {
    const j = rnd(i + 1);
    [found[i], found[j]] = [found[j]!, found[i]!];
  }
  const steps = replaySteps(found, from);
  const broken: string[] = [];
  let at = from;
  for (const s of steps) {
    const { seq, first, count } = s.record;
    if (s.start !== at || s.end <= s.start || first > s.start || s.end > first + count) {
      broken.push(`step ${JSON.stringify({ seq, first, count, start: s.start, end: s.end })} after ${at}`);
    }
    at = s.end;
  }
  const chosen = steps.flatMap((s) => Array.from({ length: s.end - s.start }, () => s.record.seq));
  const expected = model.acked.slice(from);
  // Acknowledged entries come back exactly. After them, entries of a write that failed may
  // follow, never of one acknowledged elsewhere: the writer allows that when a crash follows
  // a failed write directly, and this model drops released records more freely than the
  // writer, which reuses space only by writing a newer record into it.
  const ackedSeqs = new Set(model.acked);
  const tail = chosen.slice(expected.length).filter((seq) => ackedSeqs.has(seq));
  if (broken.length > 0 || chosen.slice(0, expected.length).join() !== expected.join() || tail.length > 0) {
    const context = JSON.stringify({ from, released, found, acked: model.acked });
    expect({ broken, chosen: chosen.slice(0, expected.length), tail }, context).toEqual({
      broken: [],
      chosen: expected,
      tail: [],
    });
  }
}

/** Seeds 1–2000, or KUBETRAIL_TEST_SEED alone; the one running is printed if the test fails. */
function* seeds(): Generator<number> {
  let current = 0;
  reportSeed(() => current);
  const only = seedFromEnv();
  for (current = only ?? 1; current <= (only ?? 2000); current++) yield current;
}

describe("replaySteps against a model writer", () => {
  it("yields exactly the acknowledged entries after `from`, each from the record that was acknowledged", () => {
    for (const seed of seeds()) {
      const rnd = prng(seed);
      checkRecovery(rnd, simulate(rnd, true));
    }
  });

  // Same as above, but a failed write may be followed by a shorter one at the same index.
  it("yields exactly the acknowledged entries also when a rewrite is shorter than the failed write", () => {
    for (const seed of seeds()) {
      const rnd = prng(seed);
      checkRecovery(rnd, simulate(rnd, false));
    }
  });
});
