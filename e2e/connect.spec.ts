import { expect, test } from "@playwright/test";
import { expectAccessible, shot, signIn, state } from "./helpers.js";

test("Connect an app: pick a client and a model, see its configuration, create the aliases and a key", async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page, "#/dashboard");
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Connect an app" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Connect an app");

  await page.getByRole("textbox", { name: "App" }).click();
  await page.getByRole("option", { name: "Codex" }).click();
  await page.getByRole("textbox", { name: "Model" }).click();
  await page.getByRole("option", { name: "tiny-chat" }).click();
  const config = page.getByTestId("connect-config");
  await expect(config.getByTestId("connect-file")).toContainText('wire_api = "responses"');
  await expect(config.getByTestId("connect-file")).toContainText("model_context_window = 4096");
  await expect(config.getByTestId("connect-env")).toContainText("MAAS_BASE_API_KEY");
  await expect(config.getByTestId("connect-env")).toContainText("<your-maas-base-key>");
  // Honest about context: tiny-chat gets 4096 tokens; Codex opens with about 23000.
  await expect(config.getByTestId("connect-context")).toContainText("up to 4096 tokens");
  await expect(config.getByTestId("connect-context")).toContainText("about 23000 tokens");
  await expect(config.getByTestId("connect-context")).toContainText("too small");
  await expectAccessible(page, "connect (codex preview)");

  await page.getByRole("textbox", { name: "App" }).click();
  await page.getByRole("option", { name: "Claude Code" }).click();
  await expect(config.getByRole("table", { name: "Aliases this app needs" })).toContainText("claude-*");
  await page.getByTestId("connect-create").click();
  const shown = page.getByTestId("connect-key");
  await expect(shown).toContainText(/mb_\w+/);
  const key = (await shown.getByTestId("connect-key-value").textContent()) ?? "";
  expect(key).toMatch(/^mb_\w+$/);
  await expect(config.getByTestId("connect-env")).toContainText(`ANTHROPIC_AUTH_TOKEN="${key}"`);
  // Made: the alias now points at the model and needs no change.
  await expect(config.getByRole("table", { name: "Aliases this app needs" })).toContainText("none");
  await expectAccessible(page, "connect (key created)");
  await shot(page, "connect-created");

  // The key and the alias work as the page says: Claude Code's model name answers with it.
  const res = await fetch(`${state().url}/v1/models/claude-opus-5-5`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ id: "claude-opus-5-5", alias_of: "tiny-chat" });
});
