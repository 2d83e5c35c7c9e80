// The runtime dependencies are exactly what the built program imports: a package only the
// benchmarks or the tests use (pg, esbuild, fast-check) belongs in devDependencies, where
// `npm ci --omit=dev` leaves it out, and a package the program imports must not be missing there.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { builtinModules } from "node:module";
import { describe, expect, it } from "vitest";

const root = path.join(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
};

/** The packages the program's own code (src/, not its tests) imports. */
function imported(): Set<string> {
  const found = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== "testdata") walk(file);
        continue;
      }
      // `import type` is erased from the built program: a types-only package is a dev dependency.
      if (!/\.(ts|mjs)$/.test(e.name) || e.name.endsWith(".test.ts") || e.name === "ts-loader.mjs") continue;
      for (const m of readFileSync(file, "utf8").matchAll(
        /^(?:import|export)(?! type )[^"]*?from "([^"./][^"]*)"/gm,
      )) {
        const spec = m[1]!;
        if (spec.startsWith("node:") || builtinModules.includes(spec)) continue;
        found.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
      }
    }
  };
  walk(path.join(root, "src"));
  return found;
}

describe("package.json", () => {
  it("lists as runtime dependencies exactly the packages src/ imports", () => {
    expect([...imported()].sort()).toEqual(Object.keys(pkg.dependencies).sort());
  });
});
