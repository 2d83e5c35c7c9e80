// Bundles `kubectl trail` (dist/cli/kubectl-trail.js, as tsc wrote it) into that one file, so
// a run reads one file instead of a few hundred modules (its start-up is most of a short
// answer's time). Run by `npm run build` after tsc; the rest of dist/ stays as tsc wrote it.
//
// Two things keep the bundle behaving like the modules it replaces:
// - Native addons (better-sqlite3, zstd-napi) are required only when the code that uses them
//   runs: an external ESM import would be hoisted to the top of the bundle and loaded on every
//   run, where the remote path never needs them.
// - `import.meta.url` in each bundled module still names that module's own file in dist/, so
//   worker threads (`workerModule`) and files found beside a module resolve as before.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = path.join(root, "dist");
const NATIVE = ["better-sqlite3", "zstd-napi"];

/** Native addons as CommonJS modules whose `require` runs when their importer is first used. */
const lazyNative = {
  name: "lazy-native",
  setup(build) {
    const filter = new RegExp(`^(${NATIVE.join("|")})$`);
    build.onResolve({ filter }, (args) =>
      args.namespace === "lazy-native"
        ? { path: args.path, external: true }
        : { path: args.path, namespace: "lazy-native" },
    );
    build.onLoad({ filter: /.*/, namespace: "lazy-native" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};

/** Each module of dist/ keeps its own import.meta.url, relative to where the bundle lands. */
function ownImportMetaUrl(outDir) {
  return {
    name: "own-import-meta-url",
    setup(build) {
      build.onLoad({ filter: /\.js$/ }, (args) => {
        const text = readFileSync(args.path, "utf8");
        if (!args.path.startsWith(dist + path.sep) || !text.includes("import.meta.url")) return undefined;
        const rel = path.relative(outDir, args.path).split(path.sep).join("/");
        return {
          contents: text.replaceAll(
            "import.meta.url",
            `new URL(${JSON.stringify(rel.startsWith(".") ? rel : `./${rel}`)}, import.meta.url).href`,
          ),
          loader: "js",
        };
      });
    },
  };
}

async function bundle(entry) {
  const file = path.join(dist, entry);
  const result = await esbuild.build({
    entryPoints: [file],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    write: false,
    outfile: file,
    legalComments: "none",
    logLevel: "warning",
    // CommonJS packages inside an ESM bundle call require() for Node's own modules.
    banner: {
      js: 'import { createRequire as __kubetrailRequire } from "node:module";\nconst require = __kubetrailRequire(import.meta.url);',
    },
    plugins: [lazyNative, ownImportMetaUrl(path.dirname(file))],
  });
  const [out] = result.outputFiles;
  // The shebang comes from the entry; esbuild keeps it first.
  writeFileSync(file, out.contents, { mode: 0o755 });
}

await bundle(path.join("cli", "kubectl-trail.js"));
