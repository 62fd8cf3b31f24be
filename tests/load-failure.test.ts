/**
 * A model that fails to load (not a crash) in its engine process: the client's error and
 * the model's state in the admin API carry llama.cpp's reason, not a generic message.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeMissingTensorModel } from "../src-main/core/fixtures/hostileModels.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({}, (modelsDir) => {
    // The header reads fine (the inspector lists it); llama.cpp refuses to load it.
    writeMissingTensorModel(join(modelsDir, "missing-tensor.gguf"));
  });
}, 180_000);

afterAll(async () => {
  await server?.stop();
});

describe("a model that fails to load", () => {
  it("tells the client and the admin API what llama.cpp said", async () => {
    const res = await fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "missing-tensor", messages: [{ role: "user", content: "hi" }], max_tokens: 2 }),
    });
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { message: string; code: string } };
    expect(body.error.code).toBe("model_load_failed");
    expect(body.error.message).toMatch(/llama_model_load: error loading model: .*output_norm\.weight/);
    const engine = (await (
      await fetch(`${server.url}/api/admin/engine`, { headers: { authorization: `Bearer ${server.adminKey}` } })
    ).json()) as { models: Array<{ id: string; state: string; reason: string | null }> };
    const model = engine.models.find((m) => m.id === "missing-tensor");
    expect(model?.state).toBe("error");
    expect(model?.reason).toMatch(/error loading model: .*output_norm\.weight/);
    // The other models keep answering.
    const ok = await fetch(`${server.baseURL}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "tiny-chat", messages: [{ role: "user", content: "hi" }], max_tokens: 2 }),
    });
    expect(ok.status).toBe(200);
  }, 180_000);
});
