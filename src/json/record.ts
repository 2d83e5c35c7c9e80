// Parsed JSON arrives as `unknown`: this tells a JSON object from arrays, null and scalars,
// for every module that walks events, policies, rules or bundles.

/** True for a JSON object (not null, not an array), whose fields can then be read by name. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
