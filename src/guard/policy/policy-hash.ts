// The hash a decision records for each policy: SHA-256 over the policy's definition as
// canonical JSON (object keys sorted), so the same policy hashes the same whatever the file's
// formatting, comments or key order, and any change to what it checks changes the hash.
import { createHash } from "node:crypto";
import { isRecord } from "../../json/record.js";

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isRecord(value))
    return `{${Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(",")}}`;
  return JSON.stringify(value) ?? "null";
}

export function policyHash(...parts: unknown[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(canonicalJson(p)).update("\n");
  return h.digest("hex");
}
