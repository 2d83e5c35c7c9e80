import { describe, expect, it } from "vitest";
import {
  AddEntriesDecoder,
  encodeAddEntriesHeader,
  encodeEntryPackage,
  formatMirrorInfo,
  packageRanges,
  parseMirrorInfo,
  type EntryPackage,
  type LengthPrefix,
} from "./mirror-protocol.js";

const entry = (i: number, size = 10): Uint8Array => new TextEncoder().encode(`{"n":${i}}`.padEnd(size, " "));
const hash = (b: number): Uint8Array => new Uint8Array(32).fill(b);

function body(start: number, end: number, prefix: LengthPrefix, size = 10): Uint8Array[] {
  const parts = [
    encodeAddEntriesHeader({
      origin: "example.com/log",
      uploadStart: start,
      uploadEnd: end,
      ticket: Uint8Array.of(7, 8),
    }),
  ];
  for (const r of packageRanges(start, end)) {
    const entries = [];
    for (let i = r.start; i < r.end; i++) entries.push(entry(i, size));
    parts.push(encodeEntryPackage(entries, [hash(r.start % 256), hash(r.end % 256)], prefix));
  }
  return parts;
}

function decodeAll(
  chunks: Uint8Array[],
  prefix: LengthPrefix,
): { packages: EntryPackage[]; decoder: AddEntriesDecoder } {
  const decoder = new AddEntriesDecoder(prefix, { maxEntryBytes: 1 << 20, maxPackageBytes: 1 << 25 });
  const packages: EntryPackage[] = [];
  for (const c of chunks) {
    decoder.push(c);
    decoder.header();
    for (let p = decoder.nextPackage(); p; p = decoder.nextPackage()) packages.push(p);
  }
  return { packages, decoder };
}

describe("tlog-mirror add-entries", () => {
  it("splits an upload into the canonical sequence aligned at 256", () => {
    expect(packageRanges(5, 5)).toEqual([]);
    expect(packageRanges(5, 700)).toEqual([
      { subtreeStart: 0, start: 5, end: 256 },
      { subtreeStart: 256, start: 256, end: 512 },
      { subtreeStart: 512, start: 512, end: 700 },
    ]);
    expect(packageRanges(256, 512)).toEqual([{ subtreeStart: 256, start: 256, end: 512 }]);
  });

  it.each([
    { prefix: 2 as const, size: 10, chunkSizes: [1, 7, 4096, 0] },
    // Entries over 64 KiB need uint32 lengths (kubetrail's extension).
    { prefix: 4 as const, size: 70_000, chunkSizes: [65_536, 0] },
  ])("decodes a body cut into chunks of any size (uint$prefix lengths)", ({ prefix, size, chunkSizes }) => {
    const whole = Buffer.concat(body(100, 900, prefix, size));
    for (const chunkSize of chunkSizes.map((c) => c || whole.length)) {
      const chunks = [];
      for (let at = 0; at < whole.length; at += chunkSize) chunks.push(whole.subarray(at, at + chunkSize));
      const { packages, decoder } = decodeAll(chunks, prefix);
      expect(decoder.header()).toMatchObject({ origin: "example.com/log", uploadStart: 100, uploadEnd: 900 });
      expect(decoder.header()!.ticket).toEqual(Uint8Array.of(7, 8));
      expect(packages.map((p) => [p.start, p.end, p.entries.length])).toEqual([
        [100, 256, 156],
        [256, 512, 256],
        [512, 768, 256],
        [768, 900, 132],
      ]);
      expect(packages[1]!.entries[3]!.length).toBe(size);
      expect(new TextDecoder().decode(packages[1]!.entries[3]!).trim()).toBe('{"n":259}');
      expect(packages[3]!.proof).toEqual([hash(768 % 256), hash(900 % 256)]);
      expect(decoder.complete).toBe(true);
      expect(decoder.pendingBytes).toBe(0);
    }
  });

  it("leaves a truncated package pending and refuses oversized entries and packages", () => {
    const parts = body(0, 300, 2);
    const cut = Buffer.concat(parts).subarray(0, parts[0]!.length + parts[1]!.length + 50);
    const { packages, decoder } = decodeAll([cut], 2);
    expect(packages).toHaveLength(1);
    expect(decoder.complete).toBe(false);
    expect(decoder.pendingBytes).toBe(50);

    const small = new AddEntriesDecoder(2, { maxEntryBytes: 5, maxPackageBytes: 1 << 20 });
    small.push(Buffer.concat(parts));
    small.header();
    expect(() => small.nextPackage()).toThrow(/larger than 5/);
    const tight = new AddEntriesDecoder(2, { maxEntryBytes: 100, maxPackageBytes: 1000 });
    tight.push(Buffer.concat(parts));
    tight.header();
    expect(() => tight.nextPackage()).toThrow(/package is larger than 1000/);
  });

  it("round-trips the mirror-info body", () => {
    const info = { pendingSize: 1234, nextEntry: 1000, ticket: Uint8Array.of(1, 2, 3) };
    expect(formatMirrorInfo(info)).toBe("1234\n1000\nAQID\n");
    expect(parseMirrorInfo("1234\n1000\nAQID\n")).toEqual(info);
    expect(parseMirrorInfo("5\n5\n\n").ticket).toHaveLength(0);
    expect(() => parseMirrorInfo("5\n5\n")).toThrow();
  });
});
