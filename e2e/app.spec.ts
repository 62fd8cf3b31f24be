import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { shot, signIn, state } from "./helpers.js";

test.use({ viewport: { width: 1280, height: 800 } });

test("the one-time sign-in link opens the app, once", async ({ page, browser }) => {
  const { signInLink } = state();
  await page.goto(signInLink);
  await expect(page.getByTestId("server-state")).toContainText("serving");
  await expect(page.getByTestId("base-url")).toContainText("/v1");
  // Which engine serves, and the background build's state (`serve --no-engine-build` here).
  await expect(page.getByTestId("engine-build")).toHaveText("Background build of a faster engine: off.");
  await shot(page, "dashboard");
  // A used link, in another browser: sign-in says why instead of dropping to the form silently.
  const other = await browser.newPage();
  await other.goto(signInLink);
  await expect(other.getByTestId("signin-problem")).toContainText("used already");
  await expect(other.getByLabel("Management key")).toBeVisible();
  await other.close();
});

test("create an API key, see it once and copy it", async ({ page, context }) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await signIn(page, "#/keys");
  await page.getByTestId("new-key").click();
  await page.getByTestId("key-name").fill("e2e laptop");
  await page.getByTestId("create-key").click();
  const key = await page.getByTestId("created-key").textContent();
  expect(key).toMatch(/^mb_[0-9a-f]{16}_[0-9a-f]{32}$/);
  await page.getByTestId("copy-key").click();
  await expect(page.getByTestId("copy-key")).toHaveText("Copied");
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
  await expect(page.getByRole("cell", { name: "e2e laptop" })).toBeVisible();
  await shot(page, "keys");
});

test("import a model, load it, chat with streamed text and a tokens/s figure, then stop a generation", async ({ page }) => {
  const { dir } = state();
  const copy = join(dir, "to-import.gguf");
  copyFileSync(join(dir, "models", "tiny-chat.gguf"), copy);
  await signIn(page, "#/models");
  await page.getByTestId("import-path").fill(copy);
  await page.getByTestId("import-button").click();
  // Import reads the header in an inspector process: give it time on a busy machine.
  await expect(page.getByTestId("model-to-import")).toBeVisible({ timeout: 30_000 });
  await page.getByTestId("load-to-import").click();
  await expect(page.getByTestId("state-to-import")).toHaveText("ready", { timeout: 30_000 });
  await shot(page, "models");

  await page.getByTestId("nav-playground").click();
  await page.getByTestId("max-tokens").fill("24");
  await page.getByTestId("chat-input").fill("Tell me about lighthouses.");
  await page.getByTestId("chat-input").press("Enter");
  const answer = page.getByTestId("message-assistant").last();
  await expect(answer.getByTestId("stat-tps")).toContainText("tok/s", { timeout: 30_000 });
  expect((await answer.textContent())?.length ?? 0).toBeGreaterThan(10);
  await shot(page, "playground-chat");

  // A long answer, stopped early.
  await page.getByTestId("max-tokens").fill("4000");
  await page.getByTestId("chat-input").fill("Write a very long story.");
  await page.getByTestId("send").click();
  await expect(page.getByTestId("stop")).toBeVisible();
  await page.waitForTimeout(400);
  await page.getByTestId("stop").click();
  await expect(page.getByTestId("send")).toBeVisible({ timeout: 10_000 });
  await expect(page.getByTestId("message-assistant").last().getByTestId("stopped")).toBeVisible();
  await shot(page, "playground-stopped");
});

/** A second chat model (a copy of tiny-chat), imported through the admin API unless there already. */
async function ensureSecondModel() {
  const { url, adminKey, dir } = state();
  const headers = { authorization: `Bearer ${adminKey}`, "content-type": "application/json" };
  const library = (await (await fetch(`${url}/api/admin/library`, { headers })).json()) as { data: Array<{ id: string }> };
  if (library.data.some((m) => m.id === "to-import")) return;
  const copy = join(dir, "to-import.gguf");
  copyFileSync(join(dir, "models", "tiny-chat.gguf"), copy);
  const res = await fetch(`${url}/api/admin/models/import`, { method: "POST", headers, body: JSON.stringify({ path: copy }) });
  expect(res.status).toBe(201);
}

test("compare two models side by side on the same prompt", async ({ page }) => {
  await ensureSecondModel();
  await signIn(page, "#/playground");
  // The first chat model is picked already; add the model imported by the chat spec.
  await page.getByTestId("new-chat").click();
  await expect(page.getByTestId(/^column-/)).toHaveCount(1);
  await page.locator(".mantine-MultiSelect-input").click();
  await page.getByRole("option", { name: "to-import" }).click();
  await page.keyboard.press("Escape");
  await expect(page.getByTestId(/^column-/)).toHaveCount(2);
  await page.getByTestId("max-tokens").fill("12");
  await page.getByTestId("chat-input").fill("Compare yourselves.");
  await page.getByTestId("send").click();
  for (const column of await page.getByTestId(/^column-/).all()) {
    await expect(column.getByTestId("stat-tps")).toBeVisible({ timeout: 30_000 });
  }
  await shot(page, "playground-compare");
});

test("the rerank tab ranks documents", async ({ page }) => {
  await signIn(page, "#/playground");
  await page.getByTestId("tab-rerank").click();
  await page.getByTestId("rerank-run").click();
  const rows = page.getByTestId("rerank-results").locator("tr");
  await expect(rows).toHaveCount(3);
  await shot(page, "playground-rerank");
});

test("the usage page and the log show the requests just made", async ({ page }) => {
  await signIn(page, "#/usage");
  await expect(page.getByTestId("usage-table")).toContainText("tiny-chat");
  await shot(page, "usage");
  await page.getByTestId("nav-logs").click();
  await expect(page.getByTestId("log-table")).toContainText("chat");
  await expect(page.getByTestId("log-table")).toContainText("rerank");
  // A request made now shows up live, without a reload.
  const { url, adminKey } = state();
  const before = await page.getByTestId("log-table").locator("tbody tr").count();
  await fetch(`${url}/v1/embeddings`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "tiny-embed", input: "live" }),
  });
  await expect(page.getByTestId("log-table").locator("tbody tr")).toHaveCount(before + 1);
  await expect(page.getByTestId("log-table").locator("tbody tr").first()).toContainText("embedding");
  await shot(page, "logs");
});

test("a download from a Hugging Face-like server shows progress and completes", async ({ page }) => {
  await signIn(page, "#/models");
  await page.getByTestId("hf-search").fill("demo");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("button", { name: "acme/demo-GGUF" }).click();
  await page.getByRole("button", { name: "Download", exact: true }).click();
  const item = page.getByTestId("download").first();
  await expect(item.getByTestId("download-status")).toHaveText("downloading", { timeout: 10_000 });
  await shot(page, "download-progress");
  await expect(item.getByTestId("download-status")).toHaveText("done", { timeout: 30_000 });
  await expect(page.getByTestId("model-demo-Q8_0")).toBeVisible({ timeout: 10_000 });
  await shot(page, "download-done");
});

test("settings save and the theme switches", async ({ page }) => {
  await signIn(page, "#/settings");
  await page.getByText("Dark", { exact: true }).click();
  await expect(page.locator("html")).toHaveAttribute("data-mantine-color-scheme", "dark");
  await page.getByTestId("setting-modelTtlMinutes").fill("20");
  await page.getByTestId("save-settings").click();
  await expect(page.getByTestId("restart-needed")).toBeVisible();
  await shot(page, "settings");
});
