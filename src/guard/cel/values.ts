// Kubernetes objects arrive as JSON; CEL needs its own value types. JSON objects become Maps
// (a plain object with a "$typeName" key would be taken for a protobuf message by the CEL
// library, and object fields are attacker-controlled), whole numbers become int (bigint) as
// Kubernetes' integer fields are, other numbers double.
import { isCelList, isCelMap, isCelUint, type CelInput, type CelValue } from "@bufbuild/cel";

export function toCelInput(value: unknown): CelInput {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isInteger(value) ? BigInt(value) : value;
    case "object": {
      if (Array.isArray(value)) return value.map(toCelInput);
      const m = new Map<string, CelInput>();
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) m.set(k, toCelInput(v));
      return m;
    }
    default:
      return null;
  }
}

/** A CEL result as JSON-friendly data (ints as numbers when safe, else as strings). */
export function fromCelValue(value: CelValue): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean" || typeof value === "number")
    return value;
  if (typeof value === "bigint")
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  if (isCelUint(value)) return fromCelValue(value.value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (isCelList(value)) return [...value].map(fromCelValue);
  if (isCelMap(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[String(isCelUint(k) ? k.value : k)] = fromCelValue(v);
    return out;
  }
  return String(value);
}
