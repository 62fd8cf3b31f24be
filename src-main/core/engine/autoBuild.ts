import type { Logger } from "pino";
import { buildCpuKernels, cpuKernelsSupported, localEngineBuilds, PORTABLE, probeEngine } from "./cpuKernels.js";
import {
  type BuildStepOptions,
  buildEngine,
  missingBuildTools,
  prebuiltBeatsTunedBuild,
  TUNED_BUILD_CMAKE_OPTIONS,
} from "./engineInfo.js";

/**
 * What the background build compiles: on Linux x64 the CPU kernels only (the prebuilt
 * engine's CPU library, by this machine's compiler: ~1 min, as fast as the full build
 * here), elsewhere the full tuned build for the CPU.
 */
async function defaultBuild(options: BuildStepOptions): Promise<number> {
  if (cpuKernelsSupported()) return buildCpuKernels(options);
  const code = await buildEngine({ ...options, gpu: false });
  if (code !== 0) return code;
  // An exit code of 0 is not enough: engines must load what was built.
  const loaded = await probeEngine({ ...TUNED_BUILD_CMAKE_OPTIONS }, options.signal).catch((error: unknown) => ({
    build: String(error),
  }));
  if (loaded.build === "localBuild") return 0;
  options.onLine(`the build finished, but engines do not load it (${loaded.build}); the prebuilt engine stays in use`);
  return 1;
}

/** A build for this machine exists (a portable kernels build, made for an installer, does not count). */
function defaultAlreadyBuilt(): boolean {
  const builds = localEngineBuilds();
  return builds.tuned || (builds.kernels !== null && builds.kernels !== PORTABLE);
}

/**
 * `off`: the setting is off; `unavailable`: cmake or a compiler is missing (`reason`);
 * `notNeeded`: a local build is already in use, or the prebuilt engine is the faster one
 * on this CPU (`reason`); `building`; `built`: engines loaded
 * from now on use it; `failed` (`reason`, the last lines of output).
 */
export type EngineBuildState = "off" | "unavailable" | "notNeeded" | "building" | "built" | "failed";

/** What `GET /api/admin/engine/build` and the `serve` log report about the background build. */
export interface EngineBuildStatus {
  state: EngineBuildState;
  reason: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** cmake's progress through the compile, 0–100, once it has printed one. */
  percent: number | null;
  /** The last lines the build printed (node-llama-cpp's and cmake's progress), oldest first. */
  lastLines: string[];
}

const KEPT_LINES = 20;

/**
 * Builds a faster engine in the background on first start, where cmake and a
 * compiler exist (`defaultBuild`): the prebuilt engine measured about half of
 * llama-server's throughput at 8 streams here, a native build three quarters, and the
 * prebuilt F16 kernel runs at half speed on AMD Zen 3, and without OpenMP its threads are
 * started again at every step (bench/RESULTS.md).
 * The prebuilt engine serves meanwhile; engine processes started after the build
 * load the new binary, and running models move to it once idle (`onBuilt`). Not on a
 * CPU with AMX, where the prebuilt engine is faster for quantized models
 * (`prebuiltBeatsTunedBuild`). It costs minutes of CPU (at the lowest
 * priority), so it is off unless the caller turns it on (`serve` does, outside CI and tests).
 */
export class EngineAutoBuild {
  private current: EngineBuildStatus = {
    state: "off",
    reason: null,
    startedAt: null,
    finishedAt: null,
    percent: null,
    lastLines: [],
  };
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;

  constructor(
    private readonly options: {
      enabled: boolean;
      logger: Logger;
      /** Defaults to `defaultBuild`, from node-llama-cpp's bundled source, offline. */
      build?: (options: BuildStepOptions) => Promise<number>;
      /** Defaults to looking for our builds in node-llama-cpp's local build folder. */
      alreadyBuilt?: () => boolean;
      /** Defaults to looking for cmake, a C++ compiler and git on PATH. */
      missingTools?: () => string[];
      /** Why the prebuilt engine beats a local build here, or null (defaults to `prebuiltBeatsTunedBuild`). */
      prebuiltPreferred?: () => string | null;
      /** Called once the build is done: running engines can move to it (`Supervisor.engineBinaryChanged`). */
      onBuilt?: () => void;
    },
  ) {}

  status(): EngineBuildStatus {
    return { ...this.current, lastLines: [...this.current.lastLines] };
  }

  /** Starts the build if it is wanted and possible; returns at once. */
  start(): void {
    if (!this.options.enabled || this.running) return;
    if ((this.options.alreadyBuilt ?? defaultAlreadyBuilt)()) {
      this.current = { ...this.current, state: "notNeeded" };
      return;
    }
    const preferred = (this.options.prebuiltPreferred ?? prebuiltBeatsTunedBuild)();
    if (preferred) {
      this.current = { ...this.current, state: "notNeeded", reason: preferred };
      this.options.logger.info({ reason: preferred }, "no local engine build: the prebuilt engine is faster here");
      return;
    }
    const missing = (this.options.missingTools ?? missingBuildTools)();
    if (missing.length > 0) {
      this.current = { ...this.current, state: "unavailable", reason: `missing ${missing.join(", ")}` };
      this.options.logger.info({ missing }, "no local engine build: the prebuilt engine serves");
      return;
    }
    this.running = this.run();
  }

  private async run(): Promise<void> {
    const log = this.options.logger.child({ component: "engine-build" });
    this.current = {
      state: "building",
      reason: null,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      percent: null,
      lastLines: [],
    };
    log.info("building a faster engine for this CPU in the background; the prebuilt engine serves meanwhile");
    let code: number;
    try {
      code = await (this.options.build ?? defaultBuild)({
        lowPriority: true,
        signal: this.abort.signal,
        onLine: (line) => {
          const lines = [...this.current.lastLines, line].slice(-KEPT_LINES);
          // cmake prints "[ 42%] Building CXX object …"; the serve log gets a line every 10 %.
          const percent = Number(/^\[\s*(\d{1,3})%\]/.exec(line)?.[1] ?? Number.NaN);
          const before = this.current.percent;
          this.current = { ...this.current, lastLines: lines, ...(Number.isFinite(percent) ? { percent } : {}) };
          if (Number.isFinite(percent) && Math.floor(percent / 10) > Math.floor((before ?? -10) / 10)) {
            log.info({ percent }, "engine build progress");
          }
          log.debug(line);
        },
      });
    } catch (error) {
      code = -1;
      this.current = { ...this.current, lastLines: [...this.current.lastLines, String(error)].slice(-KEPT_LINES) };
    }
    const finishedAt = new Date().toISOString();
    if (this.abort.signal.aborted) {
      this.current = { ...this.current, state: "failed", reason: "stopped with the server", finishedAt };
    } else if (code === 0) {
      this.current = { ...this.current, state: "built", finishedAt };
      log.info("engine built: running models move to it once idle, and engines started from now on use it");
      this.options.onBuilt?.();
    } else {
      this.current = { ...this.current, state: "failed", reason: `the build exited with ${code}`, finishedAt };
      log.warn({ code, lastLines: this.current.lastLines.slice(-5) }, "engine build failed; the prebuilt engine stays in use");
    }
  }

  /** Kills a build in progress (the server is stopping). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }
}
