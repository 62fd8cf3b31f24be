import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import type { SettingsView } from "../src-main/core/settings.js";
import { admin, shot, signIn, state } from "./helpers.js";

test.use({ viewport: { width: 1280, height: 900 } });

test("settings: flag values are shown as such and not written back, an out-of-range port is an error, saved vs running", async ({
  page,
}) => {
  await signIn(page, "#/settings");
  // `serve --port 0 --threads 1 --models-dir …` in the e2e setup: shown as set by their flags.
  await expect(page.getByTestId("flag-port")).toContainText("--port");
  await expect(page.getByTestId("flag-threads")).toContainText("--threads");
  // Nothing changed: nothing to save.
  await expect(page.getByTestId("save-settings")).toBeDisabled();
  // Out of range: an error on the field, kept as typed (not clamped), and Save stays off.
  await page.getByTestId("setting-port").fill("99999");
  await page.getByTestId("setting-port").blur();
  await expect(page.getByTestId("setting-port")).toHaveValue("99999");
  await expect(page.getByText("At most 65535.")).toBeVisible();
  await expect(page.getByTestId("save-settings")).toBeDisabled();
  await shot(page, "settings-invalid-port");
  await page.getByRole("button", { name: "Discard" }).click();
  // One change: only it is saved; the flag values stay unsaved.
  await page.getByTestId("setting-maxLoadedModels").fill("3");
  await expect(page.getByTestId("save-settings")).toHaveText("Save 1 change");
  await page.getByTestId("save-settings").click();
  await expect(page.getByTestId("restart-needed")).toBeVisible();
  await expect(page.getByTestId("pending-maxLoadedModels")).toContainText("Saved 3; running 4 until a restart");
  const view = await admin<SettingsView>("/api/admin/settings");
  expect(view.saved.maxLoadedModels).toBe(3);
  expect(view.saved.port).toBeUndefined();
  expect(view.saved.threads).toBeUndefined();
  expect(view.saved.modelsDir).toBeUndefined();
  await shot(page, "settings-pending");
  // Put it back for the other specs' screenshots.
  await admin("/api/admin/settings", { method: "PUT", json: { maxLoadedModels: null } });
});

test("logs: refused (401, 400) and count_tokens requests are there, by key name, with filters by part and a detail with the error", async ({
  page,
}) => {
  const { url, adminKey } = state();
  const json = { "content-type": "application/json" };
  // No key at all: a 401 that the log shows with no key.
  expect((await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: json, body: "{}" })).status).toBe(401);
  // A body that fails validation.
  const bad = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...json, authorization: `Bearer ${adminKey}` },
    body: JSON.stringify({ model: "tiny-chat", messages: "not a list" }),
  });
  expect(bad.status).toBe(400);
  const count = await fetch(`${url}/v1/messages/count_tokens`, {
    method: "POST",
    headers: { ...json, "x-api-key": adminKey, "anthropic-version": "2023-06-01" },
    body: JSON.stringify({ model: "tiny-chat", messages: [{ role: "user", content: "count me" }] }),
  });
  expect(count.status).toBe(200);

  await signIn(page, "#/logs");
  const table = page.getByTestId("log-table");
  await expect(table).toContainText("count_tokens");
  // A part of a name is enough ("unt_tok", "e2", "messa").
  await page.getByTestId("filter-operation").fill("unt_tok");
  await expect(table.getByTestId("log-row").first()).toContainText("count_tokens");
  await expect(table.getByTestId("log-row").filter({ hasNotText: "count_tokens" })).toHaveCount(0);
  await expect(table.getByTestId("log-row").first()).toContainText("e2e"); // the key's name, not its id
  await page.getByTestId("filter-operation").fill("");
  await page.getByTestId("filter-status").click();
  await page.getByRole("option", { name: "401", exact: true }).click();
  const refused = table.getByTestId("log-row").first();
  await expect(refused).toContainText("no key");
  await refused.click();
  await expect(page.getByTestId("log-detail-error")).toContainText("API key");
  await shot(page, "logs-detail-401");
  await page.keyboard.press("Escape");
  await page.getByTestId("filter-status").click();
  await page.getByRole("option", { name: "400", exact: true }).click();
  await page.getByTestId("filter-error").fill("messages");
  await table.getByTestId("log-row").first().click();
  await expect(page.getByTestId("log-detail-error")).toContainText("messages");
  await page.keyboard.press("Escape");
});

test("usage: keys by name, a legend, and bars of a sane width for one day", async ({ page }) => {
  const { url, adminKey } = state();
  // Something to chart today, and a refused request (no key).
  await fetch(`${url}/v1/embeddings`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "tiny-embed", input: "chart me" }),
  });
  await fetch(`${url}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  await signIn(page, "#/usage");
  await page.getByText("Today", { exact: true }).click();
  const chart = page.getByTestId("chart-tokens");
  await expect(chart.getByText("prompt", { exact: true })).toBeVisible();
  await expect(chart.getByText("completion", { exact: true })).toBeVisible();
  const bar = chart.locator(".recharts-bar-rectangle").first();
  await expect(bar).toBeVisible();
  expect((await bar.boundingBox())?.width ?? 999).toBeLessThanOrEqual(60);
  await page.getByTestId("usage-group").getByText("key", { exact: true }).click();
  await expect(page.getByTestId("usage-table")).toContainText("e2e");
  await expect(page.getByTestId("usage-table")).toContainText("no key");
  await shot(page, "usage-today");
});

test("models: GPU layers has a label, a context above what the model gets says so, import ids, removing a loaded model", async ({
  page,
}) => {
  const { dir } = state();
  await signIn(page, "#/models");
  await page.getByRole("button", { name: "Settings of tiny-chat" }).click();
  await expect(page.getByRole("radiogroup", { name: "GPU layers" }).or(page.getByLabel("GPU layers"))).toBeVisible();
  await page.getByLabel("Context size (tokens per sequence)").fill("65536");
  await expect(page.getByTestId("context-capped")).toContainText("A context of 65536 tokens was asked for");
  await shot(page, "models-settings-context");
  await page.keyboard.press("Escape");

  // Import with an id that is taken: the id field says so and suggests another.
  const copy = join(dir, "dup.gguf");
  copyFileSync(join(dir, "models", "tiny-chat.gguf"), copy);
  await page.getByTestId("import-path").fill(copy);
  await page.getByTestId("import-id").fill("tiny-chat");
  await page.getByTestId("import-button").click();
  await expect(page.getByText("already exists. Choose another id, e.g. tiny-chat-2.")).toBeVisible({ timeout: 30_000 });
  await page.getByTestId("import-id").fill("dup-model");
  await page.getByTestId("import-button").click();
  await expect(page.getByTestId("model-dup-model")).toBeVisible({ timeout: 30_000 });

  // Loaded, then removed: it leaves the library and the dashboard's loaded models.
  await page.getByTestId("load-dup-model").click();
  await expect(page.getByTestId("state-dup-model")).toHaveText("ready", { timeout: 30_000 });
  await page.getByTestId("remove-dup-model").click();
  await page.getByTestId("confirm-remove").click();
  await expect(page.getByTestId("model-dup-model")).toHaveCount(0, { timeout: 15_000 });
  await page.getByTestId("nav-dashboard").click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Dashboard");
  await expect(page.getByTestId("loaded-models").getByRole("cell", { name: "dup-model" })).toHaveCount(0);
});

test("an unknown address says it was not found and the URL is corrected; toasts keep clear of Sign out", async ({ page }) => {
  await signIn(page, "#/dashboard");
  await page.goto(`${state().url}/#/nowhere`);
  await expect(page.getByTestId("not-found")).toContainText("#/nowhere");
  expect(page.url()).toMatch(/#\/dashboard$/);
  await expect(page).toHaveTitle("Dashboard · MaaS-Base");
  await page.getByTestId("nav-models").click();
  await expect(page.getByTestId("not-found")).toHaveCount(0);
  await expect(page).toHaveTitle("Models · MaaS-Base");
  // A toast (here: a rescan's) does not cover the header's Sign out.
  await page.getByTestId("rescan").click();
  const toast = page.locator(".mantine-Notification-root").first();
  await expect(toast).toBeVisible({ timeout: 20_000 });
  const a = await toast.boundingBox();
  const b = await page.getByTestId("sign-out").boundingBox();
  expect(a && b).toBeTruthy();
  if (a && b) {
    const overlap = a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
    expect(overlap).toBe(false);
  }
});
