import { describe, expect, it } from "vitest";
import {
  cidrContainsCidr,
  cidrContainsIp,
  cidrText,
  ipText,
  isGlobalUnicast,
  maskedCidr,
  parseCidr,
  parseIp,
  type Ip,
} from "./ip.js";
import { seededRandom, testSeed } from "../../../test/fixtures/seed.js";

function ip(text: string): Ip {
  const parsed = parseIp(text);
  if (typeof parsed === "string") throw new Error(parsed);
  return parsed;
}

/** Eight groups, zero runs likely, written in one of the spellings an address may take. */
function randomIpv6(next: () => number): { groups: number[]; text: string } {
  const groups = Array.from({ length: 8 }, () => (next() < 0.45 ? 0 : Math.floor(next() * 0x10000)));
  // Not IPv4-mapped: Kubernetes refuses those, and WHATWG writes them differently.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) groups[5] = 0xfffe;
  const hex = (g: number): string => {
    const h = g.toString(16);
    const padded = next() < 0.3 ? h.padStart(4, "0") : h;
    return next() < 0.3 ? padded.toUpperCase() : padded;
  };
  const zeroRuns: [number, number][] = [];
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j > i) zeroRuns.push([i, j]);
    i = j;
  }
  const run = next() < 0.7 ? zeroRuns[Math.floor(next() * zeroRuns.length)] : undefined;
  if (run === undefined) return { groups, text: groups.map(hex).join(":") };
  // Any run of zero groups (even one) may be written as "::".
  const [from, to] = run;
  return {
    groups,
    text: `${groups.slice(0, from).map(hex).join(":")}::${groups.slice(to).map(hex).join(":")}`,
  };
}

const asBigInt = (bytes: Uint8Array): bigint => bytes.reduce((n, b) => (n << 8n) | BigInt(b), 0n);

describe("IP addresses as Kubernetes' CEL ip library reads them", () => {
  it("writes IPv6 as RFC 5952 does, agreeing with WHATWG's serializer on random addresses", () => {
    const next = seededRandom(testSeed(20261207));
    for (let n = 0; n < 3000; n++) {
      const { groups, text } = randomIpv6(next);
      const parsed = parseIp(text);
      expect(parsed, text).not.toBeTypeOf("string");
      const got = parsed as Ip;
      expect([...got.bytes], text).toEqual(groups.flatMap((g) => [g >> 8, g & 0xff]));
      // The WHATWG URL parser is an implementation nobody here wrote.
      expect(ipText(got), text).toBe(new URL(`http://[${text}]/`).hostname.slice(1, -1));
    }
  });

  it.each([
    ["1.2.3.4", "1.2.3.4"],
    ["0.0.0.0", "0.0.0.0"],
    ["2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:0:0:1:0:0:0", "2001:db8:0:0:1::"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["::1.2.3.4", "::102:304"],
    ["1:2:3:4:5:6:7.8.9.10", "1:2:3:4:5:6:708:90a"],
    ["fe80::0:1", "fe80::1"],
  ])("%s is written %s", (text, canonical) => {
    expect(ipText(ip(text))).toBe(canonical);
  });

  it.each([
    ["", "four dot-separated fields"],
    ["1.2.3", "four dot-separated fields"],
    ["1.2.3.4.5", "four dot-separated fields"],
    ["01.2.3.4", "leading zero"],
    ["1.2.3.256", "over 255"],
    ["1.2.3.-1", "not a number"],
    [" 1.2.3.4", "not a number"],
    ["1:2:3:4:5:6:7", "not eight groups"],
    ["1:2:3:4:5:6:7:8:9", "not eight groups"],
    ["1::2::3", 'more than one "::"'],
    ["1:2:3:4::5:6:7:8", '"::" stands for no group'],
    [":1:2:3:4:5:6:7", 'a stray ":"'],
    ["1:2:3:4:5:6:7:", 'a stray ":"'],
    ["12345::", "not 1 to 4 hex digits"],
    ["g::1", "not 1 to 4 hex digits"],
    ["1.2.3.4::", "not 1 to 4 hex digits"],
    ["1:2:3:4:5:6:7:1.2.3.4", "not eight groups"],
    ["::ffff:1.2.3.4", "IPv4-mapped"],
    ["::FFFF:102:304", "IPv4-mapped"],
    ["fe80::1%eth0", "zone"],
  ])("%j is refused (%s)", (text, why) => {
    expect(parseIp(text)).toEqual(expect.stringContaining(why));
  });

  it("classifies as Go's netip does: private and unique-local addresses are global unicast", () => {
    expect(isGlobalUnicast(ip("10.0.0.1"))).toBe(true);
    expect(isGlobalUnicast(ip("fd00::1"))).toBe(true);
    expect(isGlobalUnicast(ip("255.255.255.255"))).toBe(false);
    expect(isGlobalUnicast(ip("224.1.2.3"))).toBe(false);
    expect(isGlobalUnicast(ip("ff0e::1"))).toBe(false);
    expect(isGlobalUnicast(ip("::"))).toBe(false);
  });
});

describe("CIDR prefixes", () => {
  it("keeps the address as written, masks on request, and checks containment bit by bit", () => {
    const next = seededRandom(testSeed(7));
    for (let n = 0; n < 2000; n++) {
      const v6 = next() < 0.5;
      const width = v6 ? 128 : 32;
      const bytes = Uint8Array.from({ length: width / 8 }, () => Math.floor(next() * 256));
      if (v6) bytes[10] = 0; // never IPv4-mapped
      const base: Ip = { family: v6 ? 6 : 4, bytes };
      const bits = Math.floor(next() * (width + 1));
      const c = parseCidr(`${ipText(base)}/${bits}`);
      if (typeof c === "string") throw new Error(c);
      expect(cidrText(c)).toBe(`${ipText(base)}/${bits}`);
      // A probe that shares the first `shared` bits with the prefix's address.
      const shared = Math.floor(next() * (width + 1));
      const keep = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - shared)) - 1n);
      const noise = BigInt.asUintN(width, BigInt(Math.floor(next() * 2 ** 32)) * 0x9e3779b97f4a7c15n);
      const probeValue = (asBigInt(bytes) & keep) | (noise & ~keep & ((1n << BigInt(width)) - 1n));
      const probeBytes = new Uint8Array(width / 8);
      for (let i = probeBytes.length - 1, v = probeValue; i >= 0; i--, v >>= 8n)
        probeBytes[i] = Number(v & 0xffn);
      const probe: Ip = { family: base.family, bytes: probeBytes };
      const mask = bits === 0 ? 0n : ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - bits)) - 1n);
      const expected = (asBigInt(bytes) & mask) === (probeValue & mask);
      expect(cidrContainsIp(c, probe), `${cidrText(c)} ∋ ${ipText(probe)}`).toBe(expected);
      expect(asBigInt(maskedCidr(c).ip.bytes)).toBe(asBigInt(bytes) & mask);
    }
  });

  it("contains a CIDR only when it is no wider and inside", () => {
    const c = (text: string) => {
      const parsed = parseCidr(text);
      if (typeof parsed === "string") throw new Error(parsed);
      return parsed;
    };
    expect(cidrContainsCidr(c("10.0.0.0/8"), c("10.255.0.0/16"))).toBe(true);
    expect(cidrContainsCidr(c("10.0.0.0/8"), c("10.0.0.0/8"))).toBe(true);
    expect(cidrContainsCidr(c("10.0.0.0/16"), c("10.0.0.0/8"))).toBe(false);
    expect(cidrContainsCidr(c("10.0.0.0/8"), c("11.0.0.0/16"))).toBe(false);
    expect(cidrContainsCidr(c("::/0"), c("10.0.0.0/8"))).toBe(false);
  });

  it.each([
    "10.0.0.0",
    "10.0.0.0/33",
    "10.0.0.0/08",
    "10.0.0.0/+8",
    "::/129",
    "fe80::/10%x",
    "::ffff:1.2.3.4/96",
  ])("%j is refused", (text) => {
    expect(parseCidr(text)).toBeTypeOf("string");
  });
});
