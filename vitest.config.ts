import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Child-process and fsync-heavy tests share two cores; forks keep native addons isolated.
    pool: "forks",
  },
});
