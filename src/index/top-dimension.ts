// The dimensions `top` counts by, as typed: singular or plural, and kubectl's short name where
// Kubernetes has one (ns). The CLI argument and GET /v1/top/{dimension} accept the same words.
import type { TopDimension } from "./db.js";
import { IndexError } from "./errors.js";

const SPELLINGS: Record<TopDimension, readonly string[]> = {
  users: ["user", "users"],
  verbs: ["verb", "verbs"],
  resources: ["resource", "resources"],
  namespaces: ["namespace", "namespaces", "ns"],
  sources: ["source", "sources", "source-ip", "source-ips", "ip", "ips"],
  groups: ["group", "groups"],
  codes: ["code", "codes"],
};

const BY_SPELLING = new Map<string, TopDimension>();
for (const [dimension, words] of Object.entries(SPELLINGS) as [TopDimension, readonly string[]][]) {
  for (const w of words) BY_SPELLING.set(w, dimension);
}

/** Every accepted spelling, for help texts. */
export const TOP_SPELLINGS =
  "user(s), verb(s), resource(s), namespace(s)/ns, source(s)/ip, group(s), code(s)";

/** The dimension `text` names (case-insensitive); a bad-filter IndexError naming the choices otherwise. */
export function parseTopDimension(text: string): TopDimension {
  const found = BY_SPELLING.get(text.toLowerCase());
  if (found === undefined)
    throw new IndexError("bad-filter", `unknown dimension "${text}" (use ${TOP_SPELLINGS})`, "dimension");
  return found;
}
