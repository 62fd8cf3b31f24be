import { defineConfig } from "vitest/config";

// Model-dependent tests share two CPU cores: run files one at a time in forked
// processes (node-llama-cpp's native addon is happiest outside worker threads).
export default defineConfig({
  test: {
    include: ["src-main/**/*.test.ts", "tests/**/*.test.ts"],
    // tests/agents drives the real coding-agent clients: its own script (`npm run test:agents`).
    exclude: ["e2e/**", "node_modules/**", "out/**", "tests/agents/**"],
    pool: "forks",
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
