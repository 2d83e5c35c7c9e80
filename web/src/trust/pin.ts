// What this browser remembers about the log, in localStorage: the verifier key the user pinned
// (trust starts there), and the last checkpoint it verified for each origin (so a later one
// must prove it only grew from it).

const PINNED = "kubetrail.pinnedVerifierKey";
const SEEN = "kubetrail.seenCheckpoint:";

export function pinnedKey(): string | undefined {
  return localStorage.getItem(PINNED) ?? undefined;
}

export function pinKey(vkey: string): void {
  localStorage.setItem(PINNED, vkey.trim());
}

export function unpinKey(): void {
  localStorage.removeItem(PINNED);
}

export interface SeenCheckpoint {
  size: number;
  /** base64 root hash */
  rootHash: string;
  /** When this browser verified it (ISO time). */
  at: string;
}

export function seenCheckpoint(origin: string): SeenCheckpoint | undefined {
  const text = localStorage.getItem(SEEN + origin);
  if (text === null) return undefined;
  try {
    const v = JSON.parse(text) as SeenCheckpoint;
    return typeof v.size === "number" && typeof v.rootHash === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

export function rememberCheckpoint(origin: string, seen: SeenCheckpoint): void {
  localStorage.setItem(SEEN + origin, JSON.stringify(seen));
}
