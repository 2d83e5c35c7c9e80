// Builds the web UI into dist/web, served by `kubetrail serve` under /ui/. The browser bundle
// uses the project's own src/tlog for proofs and checkpoints, with one swap: sha256.ts (Node's
// digest) becomes sha256.browser.ts. Nothing in the bundle may reach for a Node module: the
// build fails on any `node:` import instead of shimming it.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

const here = path.dirname(fileURLToPath(import.meta.url));
const tlogSha256 = path.resolve(here, "../src/tlog/sha256.ts");

function browserOnly(): Plugin {
  return {
    name: "kubetrail-browser-only",
    enforce: "pre",
    async resolveId(source, importer, options) {
      if (source.startsWith("node:") || ["crypto", "fs", "path", "buffer", "os"].includes(source)) {
        this.error(
          `${importer ?? "?"} imports ${source}: the web UI's bundle must not depend on Node modules`,
        );
      }
      if (importer !== undefined && source.endsWith("/sha256.js")) {
        const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
        if (resolved?.id === tlogSha256) return tlogSha256.replace(/\.ts$/, ".browser.ts");
      }
      return null;
    },
  };
}

export default defineConfig({
  root: here,
  base: "/ui/",
  publicDir: path.resolve(here, "public"),
  plugins: [browserOnly()],
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: path.resolve(here, "../dist/web"),
    emptyOutDir: true,
    target: "es2022",
    // No inline script may be needed: the CSP allows only this origin's files.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: true,
    chunkSizeWarningLimit: 250,
  },
  // Workers are bundled separately, by their own plugin list: the same rules apply.
  worker: { format: "es", plugins: () => [browserOnly()] },
});
