// Where the compiled CLI sits next to a compiled bench (build/src/cli/main.js after
// `npm run bench:build`), falling back to dist/ from `npm run build`.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export function kubetrailCli(): string {
  const here = path.dirname(fileURLToPath(import.meta.url)); // build/bench/lib
  const candidates = [
    path.resolve(here, "../../src/cli/main.js"),
    path.resolve(here, "../../../dist/cli/main.js"),
  ];
  const found = candidates.find((c) => existsSync(c));
  if (!found)
    throw new Error(
      `kubetrail CLI not built: looked for ${candidates.join(" and ")}; run npm run bench:build`,
    );
  return found;
}
