// The -o/--output flag shared by commands that print results.
import YAML from "yaml";
import { CliError } from "../errors.js";

export const OUTPUT_FORMATS = ["table", "wide", "json", "jsonl", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Exit code for a usage error (bad flag value), as commander uses for unknown options. */
export const USAGE_EXIT = 2;

export function parseOutputFormat(text: string): OutputFormat {
  return checkOutput(text, OUTPUT_FORMATS);
}

/** Checks an -o/--output value against the formats a command prints; a usage error otherwise. */
export function checkOutput<const T extends string>(text: string, formats: readonly T[]): T {
  if ((formats as readonly string[]).includes(text)) return text as T;
  throw new CliError(`-o/--output: unknown output format "${text}" (use ${formats.join(", ")})`, USAGE_EXIT);
}

/**
 * Prints a list in a machine format: json (one document with `items`), jsonl (one item per
 * line), yaml (the same document as json). Table formats are rendered by each command.
 */
export function formatMachine(
  format: "json" | "jsonl" | "yaml",
  list: { items: unknown[] } & Record<string, unknown>,
): string {
  switch (format) {
    case "json":
      return JSON.stringify(list, null, 2) + "\n";
    case "jsonl":
      return list.items.map((item) => JSON.stringify(item) + "\n").join("");
    case "yaml":
      return YAML.stringify(list);
  }
}
