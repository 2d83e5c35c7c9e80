// Kubernetes objects arrive as JSON; CEL needs its own value types. JSON objects become Maps
// (a plain object with a "$typeName" key would be taken for a protobuf message by the CEL
// library, and object fields are attacker-controlled), whole numbers become int (bigint) as
// Kubernetes' integer fields are, other numbers double.
//
// A JSON object is converted as the expression reads it, not up front: a policy reading
// object.metadata.labels of a Deployment should not pay for converting the whole Deployment
// on every review.
import { celMap, isCelList, isCelMap, isCelUint, type CelInput, type CelValue } from "@bufbuild/cel";

export function toCelInput(value: unknown): CelInput {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isInteger(value) ? BigInt(value) : value;
    case "object":
      return Array.isArray(value)
        ? value.map(toCelInput)
        : celMap(new JsonObjectMap(value as Record<string, unknown>));
    default:
      return null;
  }
}

/** A JSON object as a read-only map of CEL inputs, each field converted when it is read. */
class JsonObjectMap implements ReadonlyMap<string, CelInput> {
  private names: string[] | undefined;

  constructor(private readonly object: Record<string, unknown>) {}

  private keyList(): string[] {
    return (this.names ??= Object.keys(this.object));
  }

  get size(): number {
    return this.keyList().length;
  }

  has(key: unknown): boolean {
    return typeof key === "string" && Object.hasOwn(this.object, key);
  }

  get(key: unknown): CelInput | undefined {
    return this.has(key) ? toCelInput(this.object[key as string]) : undefined;
  }

  keys(): MapIterator<string> {
    return this.keyList().values();
  }

  *values(): MapIterator<CelInput> {
    for (const [, value] of this.entries()) yield value;
  }

  *entries(): MapIterator<[string, CelInput]> {
    for (const k of this.keyList()) yield [k, toCelInput(this.object[k])];
  }

  [Symbol.iterator](): MapIterator<[string, CelInput]> {
    return this.entries();
  }

  forEach(
    fn: (value: CelInput, key: string, map: ReadonlyMap<string, CelInput>) => void,
    thisArg?: unknown,
  ): void {
    for (const [k, value] of this.entries()) fn.call(thisArg, value, k, this);
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
