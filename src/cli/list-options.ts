// Flags that take several values: repeated (`--key A --key B`) or comma-separated
// (`--guard-policies a.yaml,b/`), parsed the same way by every command.

/** Commander's collector for a repeatable option: each use adds its value. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The items of a comma-separated flag, trimmed, empty ones dropped. */
export function commaList(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}
