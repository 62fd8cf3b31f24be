import { expect, type Page, test } from "@playwright/test";
import { PAGE_IDS, PAGE_LABELS } from "../src-renderer/src/nav.js";
import { expectAccessible, shot, signIn, state } from "./helpers.js";

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

for (const scheme of ["light", "dark"] as const) {
  for (const width of [1280, 400] as const) {
    test(`every page, ${scheme} at ${width} px: one h1, a title, no serious axe violation, a screenshot`, async ({ page }) => {
      test.setTimeout(120_000);
      await page.setViewportSize({ width, height: width === 400 ? 800 : 850 });
      await useScheme(page, scheme);
      await signIn(page, "#/dashboard");
      for (const id of PAGE_IDS) {
        await openPage(page, id);
        await expect(page.locator("h1")).toHaveCount(1);
        await expect(page).toHaveTitle(`${PAGE_LABELS[id]} · MaaS-Base`);
        // Nothing wider than the window at 400 px (actions reachable, no clipped tables).
        if (width === 400) {
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
          expect(overflow, `${id} is wider than the window`).toBeLessThanOrEqual(1);
        }
        // axe in three of the four looks (the fourth, dark at 400 px, repeats the others' colours and layout).
        if (scheme === "light" || width === 1280) await expectAccessible(page, `${id} (${scheme}, ${width} px)`);
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
