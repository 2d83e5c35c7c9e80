// kubectl-style tables: upper-case headers, columns padded to the widest cell, three spaces apart.

const GAP = "   ";

/** The header line then one line per row, columns aligned; the last column is never padded. */
export function tableLines(headers: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c] ?? 0)))
      .join(GAP)
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  return tableLines(headers, rows).join("\n") + "\n";
}
