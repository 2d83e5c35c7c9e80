import os from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Child-process and fsync-heavy tests share two cores; forks keep native addons isolated.
    pool: "forks",
    // Vitest's default (one file at a time on two cores) leaves a core idle while a file waits on
    // its child processes, fsyncs and a real apiserver, which most of the slow ones do.
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
  },
});
