// Decoding a policy document collects every problem (field path and what is wrong) rather
// than stopping at the first, so one `guard check` run shows an author all of them.
import { isRecord } from "../../json/record.js";

export interface FieldError {
  field: string;
  message: string;
}

export class FieldErrors {
  readonly errors: FieldError[] = [];

  add(field: string, message: string): void {
    this.errors.push({ field, message });
  }

  get empty(): boolean {
    return this.errors.length === 0;
  }

  /** Reports fields of `obj` not in `known` (typos would otherwise be silently ignored). */
  unknownFields(obj: Record<string, unknown>, known: readonly string[], at: string): void {
    for (const k of Object.keys(obj))
      if (!known.includes(k)) this.add(at === "" ? k : `${at}.${k}`, "unknown field");
  }

  /** A list of strings, or [] with an error; absent gives `fallback`. */
  strings(obj: Record<string, unknown>, key: string, at: string, fallback: string[] = []): string[] {
    const v = obj[key];
    if (v === undefined || v === null) return fallback;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
      this.add(`${at}.${key}`, "must be a list of strings");
      return fallback;
    }
    return v as string[];
  }

  /** An optional string field. */
  string(obj: Record<string, unknown>, key: string, at: string): string | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string") {
      this.add(`${at}.${key}`, "must be a string");
      return undefined;
    }
    return v;
  }

  /** An optional object field; absent gives {}. */
  record(obj: Record<string, unknown>, key: string, at: string): Record<string, unknown> {
    const v = obj[key];
    if (v === undefined || v === null) return {};
    if (!isRecord(v)) {
      this.add(`${at}.${key}`, "must be an object");
      return {};
    }
    return v;
  }

  /** An optional list field; absent gives []. */
  array(obj: Record<string, unknown>, key: string, at: string): unknown[] {
    const v = obj[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.add(`${at}.${key}`, "must be a list");
      return [];
    }
    return v;
  }
}
