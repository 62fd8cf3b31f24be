import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { expect, type Page } from "@playwright/test";
import { type E2eState, STATE_FILE } from "./global-setup.js";

export const state = (): E2eState => JSON.parse(readFileSync(STATE_FILE, "utf8"));

export const SCREENSHOTS = join("test-results", "screenshots");
mkdirSync(SCREENSHOTS, { recursive: true });

/** Signs in with a management key on the sign-in screen (the browser then holds a session cookie). */
export async function signIn(page: Page, path = "", key = state().adminKey) {
  const { url } = state();
  await page.goto(`${url}/${path}`);
  await page.getByLabel("Management key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("server-state")).toContainText("serving");
}

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** axe-core on the page as it is: no serious or critical violation (the list is printed when there is one). */
export async function expectAccessible(page: Page, what: string) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const described = bad.map(
    (v) =>
      `${what}: ${v.id} (${v.impact}) ${v.help}\n  ${v.nodes
        .map((n) => `${n.target.join(" ")} ${n.failureSummary ?? ""}`)
        .slice(0, 4)
        .join("\n  ")}`,
  );
  expect.soft(described, described.join("\n")).toEqual([]);
}

/** A management call with the e2e key (setup for a spec, not what it tests). */
export async function admin<T>(path: string, init: { method?: string; json?: unknown } = {}): Promise<T> {
  const { url, adminKey } = state();
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? "GET",
    headers: { authorization: `Bearer ${adminKey}`, ...(init.json !== undefined ? { "content-type": "application/json" } : {}) },
    ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
