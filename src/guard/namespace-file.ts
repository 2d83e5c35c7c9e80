// DATA/guard/namespaces.json: the namespace labels guard has learnt, kept across restarts so
// namespace selectors work from the first review after a restart. Derived data: a missing or
// damaged file is replaced (with a warning) and refilled from new reviews and audit events.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { readFileIfExists, writeFileAtomic } from "../store/durable-file.js";
import { isRecord } from "../json/record.js";
import { namespaceInfo, type NamespaceInfo } from "./namespaces.js";

export function namespaceFile(dataDir: string): string {
  return path.join(dataDir, "guard", "namespaces.json");
}

/** The remembered namespaces; `onDamaged` is told why a present file could not be used. */
export async function readNamespaceFile(
  file: string,
  onDamaged: (why: string) => void,
): Promise<NamespaceInfo[]> {
  const data = await readFileIfExists(file);
  if (data === null) return [];
  try {
    const parsed: unknown = JSON.parse(data.toString("utf8"));
    const items = isRecord(parsed) ? parsed["items"] : undefined;
    if (!Array.isArray(items)) throw new Error("no items list");
    return items.flatMap((i: unknown) => {
      const ns = namespaceInfo(isRecord(i) ? { kind: "Namespace", metadata: i } : undefined);
      return ns ? [ns] : [];
    });
  } catch (err) {
    onDamaged(`${file}: ${(err as Error).message}; starting with no namespace labels`);
    return [];
  }
}

export async function writeNamespaceFile(file: string, namespaces: readonly NamespaceInfo[]): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const items = namespaces.map((n) => ({ name: n.name, labels: n.labels, annotations: n.annotations }));
  await writeFileAtomic(file, JSON.stringify({ items }) + "\n", 0o600);
}
