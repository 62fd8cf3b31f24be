import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { _electron as electron, expect, test } from "@playwright/test";

/** The Electron binary, or why there is none (these build machines install without it). */
function electronBinary(): { path: string } | { reason: string } {
  try {
    const path = createRequire(import.meta.url)("electron") as unknown as string;
    if (typeof path === "string" && existsSync(path)) {
      if (process.platform === "linux" && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return { reason: "no display" };
      return { path };
    }
  } catch {
    // the electron package throws when its binary was not downloaded
  }
  return { reason: "no Electron binary, installed with ELECTRON_SKIP_BINARY_DOWNLOAD" };
}

const binary = electronBinary();

test("the desktop window opens on the dashboard and a chat round-trip works", async () => {
  test.skip("reason" in binary, "reason" in binary ? `Electron cannot run here: ${binary.reason}` : "");
  if (!("path" in binary)) return;
  const app = await electron.launch({ executablePath: binary.path, args: [join(import.meta.dirname, "..", "..")] });
  try {
    const page = await app.firstWindow();
    await expect(page.getByTestId("base-url")).toContainText("/v1", { timeout: 60_000 });
    const reply = await page.evaluate(async () => {
      const bridge = (
        window as unknown as { maasBase?: { connection(): Promise<{ url: string; managementKey: string } | null> } }
      ).maasBase;
      const info = await bridge?.connection();
      if (!info) return null;
      const models = await (
        await fetch(`${info.url}/v1/models`, { headers: { authorization: `Bearer ${info.managementKey}` } })
      ).json();
      const model = models.data[0]?.id;
      if (!model) return "no models";
      const res = await fetch(`${info.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${info.managementKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
      });
      return res.status;
    });
    expect([200, "no models"]).toContain(reply);
  } finally {
    await app.close();
  }
});
