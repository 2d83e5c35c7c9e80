// Paths from a compiled bench (build/bench/…, see tsconfig.bench.json) back into the source
// tree, where the fixtures and bench/README.md stay.
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file runs as build/bench/lib/paths.js). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** A file or directory under bench/fixtures. */
export function benchFixture(name: string): string {
  return path.join(repoRoot, "bench", "fixtures", name);
}

/** The compiled bench directory (build/bench), where helper processes' scripts are. */
export const benchDir = path.join(repoRoot, "build", "bench");
