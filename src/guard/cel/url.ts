// URLs as the Kubernetes CEL url library sees them: an absolute URI or an absolute path, split
// the way Go's net/url does (the host keeps a default port, an IPv6 host keeps its brackets),
// which WHATWG's URL would not.

export interface ParsedUrl {
  scheme: string;
  /** host[:port] as written, IPv6 in brackets; "" for a path. */
  host: string;
  hostname: string;
  port: string;
  /** The path as written (already escaped). */
  path: string;
  /** The query after "?", undecoded. */
  rawQuery: string;
}

const ABSOLUTE = /^([a-zA-Z][a-zA-Z0-9+.-]*):(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#.*)?$/;
const PATH = /^(\/[^?#]*)(?:\?([^#]*))?(?:#.*)?$/;
// Control characters and spaces are refused anywhere, as Go refuses them.
function hasInvalidCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** undefined when `text` is neither an absolute URI nor an absolute path. */
export function parseUrl(text: string): ParsedUrl | undefined {
  if (hasInvalidCharacter(text)) return undefined;
  const path = PATH.exec(text);
  if (path) return { scheme: "", host: "", hostname: "", port: "", path: path[1]!, rawQuery: path[2] ?? "" };
  const m = ABSOLUTE.exec(text);
  if (!m) return undefined;
  const authority = m[2] ?? "";
  const host = authority.includes("@") ? authority.slice(authority.lastIndexOf("@") + 1) : authority;
  let hostname = host;
  let port = "";
  const ipv6 = /^\[([^\]]*)\](?::(\d*))?$/.exec(host);
  if (ipv6) {
    hostname = ipv6[1]!;
    port = ipv6[2] ?? "";
  } else if (host.startsWith("[")) {
    return undefined;
  } else if (host.includes(":")) {
    const colon = host.lastIndexOf(":");
    hostname = host.slice(0, colon);
    port = host.slice(colon + 1);
    if (!/^\d*$/.test(port) || hostname.includes(":")) return undefined;
  }
  return { scheme: m[1]!, host, hostname, port, path: m[3] ?? "", rawQuery: m[4] ?? "" };
}

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

/** The query as a map of key to its values, in order; malformed pairs are skipped as Go skips them. */
export function queryValues(rawQuery: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const pair of rawQuery.split("&")) {
    if (pair === "" || pair.includes(";")) continue;
    const eq = pair.indexOf("=");
    const key = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = decode(eq === -1 ? "" : pair.slice(eq + 1));
    if (key === undefined || value === undefined) continue;
    const list = out.get(key);
    if (list) list.push(value);
    else out.set(key, [value]);
  }
  return out;
}
