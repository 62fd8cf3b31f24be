import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

const admin = (path: string) => fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.adminKey}` } });

describe("which engine serves (admin API)", () => {
  it("names the engine build and CPU variant, and the background build is off in tests", async () => {
    const engine = await (await admin("/api/admin/engine")).json();
    expect(["prebuilt", "localBuild"]).toContain(engine.build);
    if (process.platform === "linux") expect(engine.cpuVariant).toMatch(/^[a-z0-9_]+$/);
    expect(engine.engineBuild.state).toBe("off");

    const system = await (await admin("/api/admin/system")).json();
    expect(system.cpuVariant).toBe(engine.cpuVariant);

    const build = await admin("/api/admin/engine/build");
    expect(build.status).toBe(200);
    expect(await build.json()).toEqual({
      state: "off",
      reason: null,
      startedAt: null,
      finishedAt: null,
      percent: null,
      lastLines: [],
    });
  });

  it("needs a management key", async () => {
    const response = await fetch(`${server.url}/api/admin/engine/build`, { headers: { authorization: `Bearer ${server.key}` } });
    expect(response.status).toBe(403);
  });
});
