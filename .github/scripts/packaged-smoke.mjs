#!/usr/bin/env node
// Runs the packaged app (`npm run dist -- --dir` output under release/) with --smoke-test
// on a fresh data folder, prints its report and exits with its exit code.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const release = join(import.meta.dirname, "..", "..", "release");

function packagedBinary() {
  const dirs = existsSync(release) ? readdirSync(release).filter((d) => statSync(join(release, d)).isDirectory()) : [];
  for (const dir of dirs) {
    const base = join(release, dir);
    if (process.platform === "darwin") {
      const app = join(base, "MaaS-Base.app", "Contents", "MacOS", "MaaS-Base");
      if (existsSync(app)) return app;
    } else if (process.platform === "win32") {
      const exe = join(base, "MaaS-Base.exe");
      if (existsSync(exe)) return exe;
    } else if (dir.startsWith("linux") && dir.endsWith("unpacked")) {
      for (const name of ["maas-base-desktop", "MaaS-Base", "maas-base"])
        if (existsSync(join(base, name))) return join(base, name);
    }
  }
  throw new Error(`no packaged app under ${release} (found: ${dirs.join(", ") || "nothing"})`);
}

const binary = packagedBinary();
const report = join(process.env.RUNNER_TEMP ?? tmpdir(), "packaged-smoke-report.json");
console.log(`smoke-testing ${binary}`);
const result = spawnSync(binary, ["--smoke-test", `--smoke-report=${report}`], {
  stdio: "inherit",
  timeout: 240_000,
  env: { ...process.env, MAAS_BASE_DATA_DIR: mkdtempSync(join(tmpdir(), "maas-packaged-smoke-")) },
});
if (existsSync(report)) console.log(readFileSync(report, "utf8"));
else console.log(`no report was written (${result.error?.message ?? `exit ${result.status} signal ${result.signal}`})`);
process.exit(result.status ?? 1);
