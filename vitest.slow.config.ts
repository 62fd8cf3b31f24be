import { defineConfig } from "vitest/config";

// Tests that take minutes of CPU (a native engine build), each run by its own npm script.
export default defineConfig({
  test: {
    include: ["tests/slow/**/*.slow.ts"],
    pool: "forks",
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 40 * 60_000,
  },
});
