import { defineConfig } from "@playwright/test";

// The Electron specs alone (CI: .github/workflows/desktop.yml). They launch the app
// themselves, so none of the web specs' global setup (headless server, hub) runs.
export default defineConfig({
  testDir: ".",
  testMatch: "*.spec.ts",
  timeout: 240_000,
  workers: 1,
  retries: 0,
  outputDir: "../../test-results/electron",
  reporter: [["list"]],
});
