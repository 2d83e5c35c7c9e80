// Where the compiled CLI sits next to a compiled bench (build/src/cli/main.js after
// `npm run bench:build`), falling back to dist/ from `npm run build`.
import { existsSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "./paths.js";

export function kubetrailCli(): string {
  const candidates = [
    path.join(repoRoot, "build", "src", "cli", "main.js"),
    path.join(repoRoot, "dist", "cli", "main.js"),
  ];
  const found = candidates.find((c) => existsSync(c));
  if (!found)
    throw new Error(
      `kubetrail CLI not built: looked for ${candidates.join(" and ")}; run npm run bench:build`,
    );
  return found;
}
