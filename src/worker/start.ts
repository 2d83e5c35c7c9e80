// The one way kubetrail starts a worker thread: a module of its own (`<name>-worker.ts`) beside
// the code that uses it. Built, that is JavaScript in dist/; run from the TypeScript sources (the
// unit tests), the worker loads the same module through ts-loader.mjs, so tests exercise the
// real worker, not a stand-in.
import { Worker, type ResourceLimits } from "node:worker_threads";

/** The worker module `name` (no extension) beside the module whose import.meta.url is `base`. */
export function workerModule(base: string, name: string): URL {
  return new URL(`./${name}${base.endsWith(".ts") ? ".ts" : ".js"}`, base);
}

/**
 * Node flags that run TypeScript sources through ts-loader.mjs: for worker threads started from
 * the sources, and for child processes the tests fork from them.
 */
export const TS_SOURCE_EXEC_ARGV: readonly string[] = [
  "--no-warnings",
  "--experimental-loader",
  new URL("./ts-loader.mjs", import.meta.url).href,
];

/** Starts a worker thread running `module` with `workerData` (and bounded by `resourceLimits`). */
export function startWorker(module: URL, workerData?: unknown, resourceLimits?: ResourceLimits): Worker {
  const fromSources = module.pathname.endsWith(".ts");
  return new Worker(module, {
    workerData,
    resourceLimits,
    // The loader's hooks are experimental in Node 20: its warning would only be noise in tests.
    ...(fromSources ? { execArgv: [...TS_SOURCE_EXEC_ARGV] } : {}),
  });
}

/**
 * Runs `module` for one answer: resolves with the first message it posts, then ends it; rejects
 * when it fails to start or throws. `unref`: it does not keep the process alive meanwhile.
 */
export function firstMessage<T>(
  module: URL,
  workerData: unknown,
  opts: { unref?: boolean } = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const worker = startWorker(module, workerData);
    if (opts.unref) worker.unref();
    worker.once("message", (m: T) => {
      void worker.terminate();
      resolve(m);
    });
    worker.once("error", reject);
  });
}
