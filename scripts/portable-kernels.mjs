#!/usr/bin/env node
// Run by `npm run dist` before electron-builder. On Linux x64 it makes the portable CPU
// kernels build (`maas-base engine build --cpu-kernels --portable`): every CPU library of
// node-llama-cpp's prebuilt engine compiled again by this machine's compiler, so the
// installer's engine does not carry GCC 11's slow F16 kernel (src-main/core/engine/cpuKernels.ts).
// electron-builder.yml ships its folder. Elsewhere there is nothing to build.
//
//   MAAS_PORTABLE_KERNELS=off        skip it (the installer ships the prebuilt engine only,
//                                    or a portable build made before, if node_modules holds one)
//   MAAS_PORTABLE_KERNELS=required   fail `npm run dist` if it cannot be built
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const mode = process.env.MAAS_PORTABLE_KERNELS ?? "auto";
if (mode === "off" || process.platform !== "linux" || process.arch !== "x64") {
  console.log(
    `portable CPU kernels: not built (${mode === "off" ? "MAAS_PORTABLE_KERNELS=off" : `${process.platform} ${process.arch}`})`,
  );
  process.exit(0);
}
const bin = join(import.meta.dirname, "..", "bin", "maas-base.mjs");
const result = spawnSync(process.execPath, [bin, "engine", "build", "--cpu-kernels", "--portable"], { stdio: "inherit" });
if (result.status !== 0) {
  const message =
    "portable CPU kernels: the build failed; the installer ships node-llama-cpp's prebuilt engine " +
    "(or a portable build made before, if node_modules holds one)";
  if (mode === "required") {
    console.error(message);
    process.exit(1);
  }
  console.warn(`${message} (MAAS_PORTABLE_KERNELS=required makes this an error)`);
}
