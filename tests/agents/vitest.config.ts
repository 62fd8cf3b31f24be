import { defineConfig } from "vitest/config";

// The real coding-agent clients (`npm run test:agents`): one file, turns of 20k–42k-token prompts.
export default defineConfig({
  test: {
    include: ["tests/agents/**/*.test.ts"],
    pool: "forks",
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
