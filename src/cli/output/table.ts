// kubectl-style tables: upper-case headers, columns padded to the widest cell, three spaces apart.

const GAP = "   ";

/** Width of each column: its widest cell or header, and at least `atLeast` (earlier pages). */
export function columnWidths(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  atLeast: readonly number[] = [],
): number[] {
  return headers.map((h, c) => Math.max(atLeast[c] ?? 0, h.length, ...rows.map((r) => (r[c] ?? "").length)));
}

/** The header line then one line per row, columns aligned; the last column is never padded. */
export function tableLines(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  widths: readonly number[] = columnWidths(headers, rows),
): string[] {
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

/** Bytes in binary units, as `du -h` and `ls -lh` print them. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[u]}`;
}
