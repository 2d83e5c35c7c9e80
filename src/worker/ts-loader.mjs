// Module hooks for worker threads started from kubetrail's TypeScript sources (the unit tests):
// Node 20 runs no TypeScript and, in a worker, no --import hooks such as tsx's; this loader
// (passed with --experimental-loader, see start.ts) maps "./x.js" to "./x.ts" where only the
// source exists and strips the types with esbuild (a dev dependency). Built code (dist/) never
// uses it: its workers are plain JavaScript.
//
// Each worker has its own hooks thread, and starting esbuild there costs most of a second, so
// the JavaScript is kept in node_modules/.cache by the source's hash: a worker whose modules
// are all there starts about as fast as a built one.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const CACHE = new URL("../../node_modules/.cache/kubetrail-worker-ts/", import.meta.url);

export async function resolve(specifier, context, next) {
  if (specifier.endsWith(".js") && context.parentURL?.endsWith(".ts") && !specifier.startsWith("node:")) {
    const url = new URL(specifier, context.parentURL);
    const source = url.href.replace(/\.js$/, ".ts");
    if (url.protocol === "file:" && !existsSync(url) && existsSync(new URL(source)))
      return next(source, context);
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.endsWith(".ts")) return next(url, context);
  const file = fileURLToPath(url);
  const source = readFileSync(file, "utf8");
  return { format: "module", source: await javascriptOf(file, source), shortCircuit: true };
}

async function javascriptOf(file, source) {
  const cached = new URL(
    `${createHash("sha256").update(file).update("\0").update(source).digest("hex")}.mjs`,
    CACHE,
  );
  try {
    return readFileSync(cached, "utf8");
  } catch {
    // Not transpiled yet.
  }
  const { transformSync } = await import("esbuild");
  const { code } = transformSync(source, {
    loader: "ts",
    format: "esm",
    target: "es2022",
    sourcefile: file,
    sourcemap: "inline",
  });
  // Written whole under a private name, then renamed: workers starting together never read half a file.
  mkdirSync(CACHE, { recursive: true });
  const tmp = new URL(
    `${cached.pathname.split("/").pop()}.${process.pid}.${Math.random().toString(36).slice(2)}`,
    CACHE,
  );
  writeFileSync(tmp, code);
  renameSync(tmp, cached);
  return code;
}
