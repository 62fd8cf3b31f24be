import { expect, type Page, test } from "@playwright/test";
import { PAGE_IDS, PAGE_LABELS } from "../src-renderer/src/nav.js";
import { admin, expectAccessible, shot, signIn, state } from "./helpers.js";

async function useScheme(page: Page, scheme: "light" | "dark") {
  await page.addInitScript((s) => localStorage.setItem("maas-base.color-scheme", s), scheme);
}

/** Waits for a page's own content (its h1 and the end of its first queries). */
async function openPage(page: Page, id: (typeof PAGE_IDS)[number]) {
  await page.goto(`${state().url}/#/${id}`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(PAGE_LABELS[id]);
  await page.waitForLoadState("networkidle").catch(() => {});
  await page.waitForTimeout(150);
}

const HEIGHT = { 400: 800, 1280: 850, 1920: 1080 } as const;

for (const scheme of ["light", "dark"] as const) {
  for (const width of [1280, 400, 1920] as const) {
    test(`every page, ${scheme} at ${width} px: one h1, a title, no serious axe violation, a screenshot`, async ({ page }) => {
      test.setTimeout(150_000);
      await page.setViewportSize({ width, height: HEIGHT[width] });
      await useScheme(page, scheme);
      await signIn(page, "#/dashboard");
      for (const id of PAGE_IDS) {
        await openPage(page, id);
        await expect(page.locator("h1")).toHaveCount(1);
        await expect(page).toHaveTitle(`${PAGE_LABELS[id]} · MaaS-Base`);
        // Nothing wider than the window (actions reachable, no clipped tables).
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        expect(overflow, `${id} is wider than the window`).toBeLessThanOrEqual(1);
        // axe in light and dark at 1280 px and light at 400 px (the other looks repeat their colours and layouts).
        if ((scheme === "light" && width !== 1920) || width === 1280)
          await expectAccessible(page, `${id} (${scheme}, ${width} px)`);
        await shot(page, `${id}-${scheme}-${width}`);
      }
    });
  }
}

test("the sign-in page is accessible and has its h1", async ({ page }) => {
  await page.goto(`${state().url}/`);
  await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
  await expectAccessible(page, "sign-in");
  await shot(page, "sign-in-light-1280");
});

test("the navigation works from the keyboard: real links, Tab reaches them, Enter opens the page", async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await signIn(page, "#/dashboard");
  const models = page.getByRole("link", { name: "Models" });
  await expect(models).toHaveAttribute("href", "#/models");
  await expect(page.getByRole("navigation", { name: "Pages" }).getByRole("link")).toHaveCount(PAGE_IDS.length);
  let reached = false;
  for (let i = 0; i < 20 && !reached; i++) {
    await page.keyboard.press("Tab");
    reached = await models.evaluate((el) => el === document.activeElement);
  }
  expect(reached).toBe(true);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Models");
  await expect(models).toHaveAttribute("aria-current", "page");
  // An unknown address does not keep a wrong URL.
  await page.goto(`${state().url}/#/nowhere`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Dashboard");
  expect(page.url()).toMatch(/#\/dashboard$/);
});

test("at 400 px the menu closes after choosing a page", async ({ page }) => {
  await page.setViewportSize({ width: 400, height: 800 });
  await signIn(page, "#/dashboard");
  await page.getByRole("button", { name: "Menu" }).click();
  const keys = page.getByRole("link", { name: "API keys" });
  await expect(keys).toBeInViewport();
  await keys.click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("API keys");
  await expect(keys).not.toBeInViewport();
});

test("when the server stops answering, a banner says so and the page's actions are disabled until it is back", async ({
  page,
}) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await signIn(page, "#/models");
  const load = page.getByRole("button", { name: "Load" }).first();
  await expect(load).toBeEnabled();
  // Every request to the server fails at the network, as when the process is gone.
  await page.route(`${state().url}/api/**`, (route) => route.abort("connectionrefused"));
  await expect(page.getByTestId("offline")).toBeVisible({ timeout: 15_000 });
  await expect(page.getByTestId("server-state")).toHaveText("server unreachable");
  await expect(load).toBeDisabled();
  await shot(page, "models-server-unreachable");
  await page.unroute(`${state().url}/api/**`);
  await expect(page.getByTestId("offline")).toBeHidden({ timeout: 15_000 });
  await expect(load).toBeEnabled();
});

/** How far an element's content is wider than its box (0: no horizontal scrollbar). */
const sideways = (page: Page, selector: string) => page.locator(selector).evaluate((el) => el.scrollWidth - el.clientWidth);

test("the Models table fits 1280 px without a horizontal scrollbar", async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 850 });
  await signIn(page, "#/models");
  await expect(page.getByTestId("model-tiny-chat")).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
  expect(await sideways(page, ".library")).toBeLessThanOrEqual(0);
  // A table still: a header row, and each model's cells side by side on one line.
  await expect(page.getByRole("columnheader", { name: "State" })).toBeVisible();
  const name = await page.getByTestId("model-tiny-chat").getByRole("cell").first().boundingBox();
  const remove = await page.getByTestId("remove-tiny-chat").boundingBox();
  expect(name && remove && Math.abs(name.y + name.height / 2 - (remove.y + remove.height / 2))).toBeLessThan(12);
  expect(remove && remove.x + remove.width).toBeLessThanOrEqual(1280);
});

test("at 400 px the API keys reflow into one card per key: nothing scrolls sideways, Revoke in reach", async ({ page }) => {
  await page.setViewportSize({ width: 400, height: 800 });
  await signIn(page, "#/keys");
  const row = page
    .getByTestId("key-row")
    .filter({ has: page.getByRole("button", { name: "Revoke" }) })
    .first();
  await expect(row).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
  expect(await sideways(page, ".keys-card")).toBeLessThanOrEqual(0);
  // Stacked: each cell says what it is.
  await expect(row.locator('td[data-label="Scopes"]')).toBeVisible();
  const revoke = row.getByRole("button", { name: "Revoke" });
  await revoke.scrollIntoViewIfNeeded();
  await expect(revoke).toBeInViewport({ ratio: 1 });
  const box = await revoke.boundingBox();
  expect(box && box.x >= 0 && box.x + box.width <= 400).toBe(true);
});

test("at 400 px the routes reflow too: nothing scrolls sideways, Edit in reach, flags not cut", async ({ page }) => {
  await page.setViewportSize({ width: 400, height: 800 });
  await signIn(page, "#/routes");
  await expect(page.getByRole("button", { name: "Edit" }).first()).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
  expect(await sideways(page, "[data-testid=routes-card]")).toBeLessThanOrEqual(0);
  const badge = page.locator("[data-testid=routes-card] .mantine-Badge-label").first();
  expect(await badge.evaluate((el) => el.scrollWidth - el.clientWidth)).toBeLessThanOrEqual(0);
  const box = await page.getByRole("button", { name: "Edit" }).first().boundingBox();
  expect(box && box.x >= 0 && box.x + box.width <= 400).toBe(true);
});

test("at 400 px the Models table reflows into one card per model with every action in reach", async ({ page }) => {
  test.setTimeout(120_000);
  await page.setViewportSize({ width: 400, height: 800 });
  // The model whose Load is pressed below starts unloaded (other specs may have loaded it).
  await admin("/api/admin/models/tiny-rerank/unload", { method: "POST" });
  await signIn(page, "#/models");
  const row = page.getByTestId("model-tiny-rerank");
  await expect(row).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
  expect(await sideways(page, ".library")).toBeLessThanOrEqual(0);
  // Stacked: the actions sit below the model's name, inside the window.
  for (const id of ["tiny-chat", "tiny-embed", "tiny-rerank"]) {
    const card = page.getByTestId(`model-${id}`);
    // Load, or Unload when another spec left it loaded.
    const first = card.getByRole("button", { name: new RegExp(`^(Load|Unload|Try loading) ${id}$`) });
    for (const button of [first, card.getByRole("button", { name: `Settings of ${id}` }), card.getByTestId(`remove-${id}`)]) {
      await button.scrollIntoViewIfNeeded();
      await expect(button).toBeInViewport({ ratio: 1 });
      const box = await button.boundingBox();
      expect(box && box.x >= 0 && box.x + box.width <= 400).toBe(true);
    }
    const title = await card.getByRole("cell").first().boundingBox();
    const load = await first.boundingBox();
    expect(title && load && load.y > title.y + title.height - 1).toBe(true);
  }
  // Each action works from there: Settings opens the drawer, Remove asks first, Load loads.
  await row.getByRole("button", { name: "Settings of tiny-rerank" }).click();
  await expect(page.getByRole("dialog", { name: "Settings · tiny-rerank" })).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(page.getByRole("dialog", { name: "Settings · tiny-rerank" })).toBeHidden();
  await row.getByTestId("remove-tiny-rerank").click();
  await expect(page.getByRole("dialog", { name: "Remove tiny-rerank?" })).toBeVisible();
  await page.getByRole("button", { name: "Keep it" }).click();
  await row.getByTestId("load-tiny-rerank").click();
  await expect(page.getByTestId("state-tiny-rerank")).toHaveText("ready", { timeout: 60_000 });
  await shot(page, "models-cards-400");
  await row.getByRole("button", { name: "Unload tiny-rerank" }).click();
  await expect(page.getByTestId("state-tiny-rerank")).toHaveText("unloaded", { timeout: 30_000 });
});
