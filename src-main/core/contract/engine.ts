/** The engine and the machine, as admin answers: `/api/admin/engine`, `/api/admin/system`, `/api/admin/processes`. */
import type { EngineDescription } from "../inference/engineReport.js";
import type { ModelLoadPublic } from "./models.js";

export type { EngineDescription } from "../inference/engineReport.js";
/** `GET /api/admin/system`: the engine's backend and the machine's memory and devices. */
export type SystemPublic = EngineDescription;

/** Which build serves, in words: the CLI's `gpus` and the Dashboard say it the same way. */
export function engineBuildLabel(engine: Pick<EngineDescription, "build" | "cpuKernels">): string {
  if (engine.cpuKernels === "rebuilt") return "prebuilt, CPU kernels built on this machine";
  if (engine.cpuKernels === "portable") return "prebuilt, CPU kernels rebuilt when packaged";
  return engine.build === "localBuild" ? "built on this machine" : "prebuilt";
}

/** `GET /api/admin/engine/build`. */
export interface EngineBuildPublic {
  state: "off" | "unavailable" | "notNeeded" | "building" | "built" | "failed";
  reason: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** cmake's progress through the compile, 0–100, once it has printed one. */
  percent: number | null;
  /** The last lines the build printed, oldest first. */
  lastLines: string[];
}

/** `GET /api/admin/engine`. */
export interface EnginePublic extends EngineDescription {
  threads: number;
  models: ModelLoadPublic[];
  engineBuild: EngineBuildPublic;
}
