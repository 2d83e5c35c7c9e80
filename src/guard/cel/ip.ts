// IP addresses and CIDR prefixes as the Kubernetes CEL ip and cidr libraries see them: parsed as
// Go's net/netip parses them (strict dotted quads, at most one "::", an IPv4 tail in IPv6), with
// what Kubernetes refuses on top (IPv4-mapped IPv6 addresses, zones), and written in netip's
// canonical spelling (RFC 5952 for IPv6), which is also what equality compares.

export interface Ip {
  family: 4 | 6;
  /** 4 bytes for IPv4, 16 for IPv6. */
  bytes: Uint8Array;
}

export interface Cidr {
  /** The address as written, host bits included (masked() clears them). */
  ip: Ip;
  bits: number;
}

/** Why `text` is not an IPv4 address, or its bytes. */
function parseIpv4(text: string): Uint8Array | string {
  const fields = text.split(".");
  if (fields.length !== 4) return "an IPv4 address has four dot-separated fields";
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const f = fields[i]!;
    if (!/^[0-9]{1,3}$/.test(f)) return `IPv4 field "${f}" is not a number from 0 to 255`;
    if (f.length > 1 && f.startsWith("0")) return `IPv4 field "${f}" has a leading zero`;
    const n = Number(f);
    if (n > 255) return `IPv4 field "${f}" is over 255`;
    out[i] = n;
  }
  return out;
}

/** The bytes of colon-separated hex groups, an IPv4 tail allowed when `last`. */
function ipv6Groups(part: string, last: boolean): number[] | string {
  if (part === "") return [];
  const groups = part.split(":");
  const out: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (last && i === groups.length - 1 && g.includes(".")) {
      const v4 = parseIpv4(g);
      if (typeof v4 === "string") return v4;
      out.push(...v4);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
      const n = parseInt(g, 16);
      out.push(n >> 8, n & 0xff);
    } else {
      return g === "" ? 'a stray ":"' : `IPv6 group "${g}" is not 1 to 4 hex digits`;
    }
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | string {
  const halves = text.split("::");
  if (halves.length > 2) return 'more than one "::"';
  const head = ipv6Groups(halves[0]!, halves.length === 1);
  if (typeof head === "string") return head;
  const out = new Uint8Array(16);
  if (halves.length === 1) {
    if (head.length !== 16) return 'not eight groups, and no "::"';
    out.set(head);
    return out;
  }
  const tail = ipv6Groups(halves[1]!, true);
  if (typeof tail === "string") return tail;
  if (head.length + tail.length > 14) return '"::" stands for no group';
  out.set(head);
  out.set(tail, 16 - tail.length);
  return out;
}

/** The address, or why `text` is not one Kubernetes accepts. */
export function parseIp(text: string): Ip | string {
  if (text.includes("%")) return `IP address "${text}" with zone value is not allowed`;
  if (text.includes(":")) {
    const bytes = parseIpv6(text);
    if (typeof bytes === "string") return `"${text}" is not an IP address: ${bytes}`;
    if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
      return `IPv4-mapped IPv6 address "${text}" is not allowed`;
    return { family: 6, bytes };
  }
  const bytes = parseIpv4(text);
  if (typeof bytes === "string") return `"${text}" is not an IP address: ${bytes}`;
  return { family: 4, bytes };
}

/** netip's spelling: dotted decimal, or RFC 5952 (lower case, the first longest zero run as "::"). */
export function ipText(ip: Ip): string {
  const b = ip.bytes;
  if (ip.family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups = Array.from({ length: 8 }, (_, i) => (b[2 * i]! << 8) | b[2 * i + 1]!);
  let start = -1;
  let length = 1;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > length) {
      start = i;
      length = j - i;
    }
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(":");
  if (start < 0) return hex(groups);
  return `${hex(groups.slice(0, start))}::${hex(groups.slice(start + length))}`;
}

/** The prefix, or why `text` is not one Kubernetes accepts. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.lastIndexOf("/");
  if (slash < 0) return `"${text}" is not a CIDR: no "/"`;
  const ip = parseIp(text.slice(0, slash));
  if (typeof ip === "string") return `"${text}" is not a CIDR: ${ip}`;
  const bitsText = text.slice(slash + 1);
  const max = ip.family === 4 ? 32 : 128;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(bitsText) || Number(bitsText) > max)
    return `"${text}" is not a CIDR: prefix length "${bitsText}" is not a number from 0 to ${max}`;
  return { ip, bits: Number(bitsText) };
}

export function cidrText(c: Cidr): string {
  return `${ipText(c.ip)}/${c.bits}`;
}

/** The prefix with its host bits cleared. */
export function maskedCidr(c: Cidr): Cidr {
  const bytes = c.ip.bytes.slice();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, c.bits - 8 * i));
    bytes[i]! &= (0xff << (8 - keep)) & 0xff;
  }
  return { ip: { family: c.ip.family, bytes }, bits: c.bits };
}

export function cidrContainsIp(c: Cidr, ip: Ip): boolean {
  if (ip.family !== c.ip.family) return false;
  const mine = maskedCidr(c).ip.bytes;
  const theirs = maskedCidr({ ip, bits: c.bits }).ip.bytes;
  return mine.every((b, i) => b === theirs[i]);
}

/** True when every address of `other` is in `c`. */
export function cidrContainsCidr(c: Cidr, other: Cidr): boolean {
  return other.bits >= c.bits && cidrContainsIp(c, other.ip);
}

const is4 = (ip: Ip): boolean => ip.family === 4;
const every = (ip: Ip, v: number, from = 0, to = ip.bytes.length): boolean =>
  ip.bytes.subarray(from, to).every((b) => b === v);

export const isUnspecified = (ip: Ip): boolean => every(ip, 0);
export const isLoopback = (ip: Ip): boolean =>
  is4(ip) ? ip.bytes[0] === 127 : every(ip, 0, 0, 15) && ip.bytes[15] === 1;
const isMulticast = (ip: Ip): boolean => (is4(ip) ? (ip.bytes[0]! & 0xf0) === 0xe0 : ip.bytes[0] === 0xff);
export const isLinkLocalMulticast = (ip: Ip): boolean =>
  is4(ip)
    ? ip.bytes[0] === 224 && ip.bytes[1] === 0 && ip.bytes[2] === 0
    : ip.bytes[0] === 0xff && (ip.bytes[1]! & 0x0f) === 0x02;
export const isLinkLocalUnicast = (ip: Ip): boolean =>
  is4(ip)
    ? ip.bytes[0] === 169 && ip.bytes[1] === 254
    : ip.bytes[0] === 0xfe && (ip.bytes[1]! & 0xc0) === 0x80;
/** As Go's: private IPv4 and unique local IPv6 addresses count as global unicast. */
export const isGlobalUnicast = (ip: Ip): boolean =>
  !isUnspecified(ip) &&
  !(is4(ip) && every(ip, 0xff)) &&
  !isLoopback(ip) &&
  !isMulticast(ip) &&
  !isLinkLocalUnicast(ip);
