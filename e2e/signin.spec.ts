import { expect, test } from "@playwright/test";
import { admin, signIn, state } from "./helpers.js";

test.use({ viewport: { width: 1280, height: 800 } });

test("a browser session lasts: a new tab and a reload stay signed in; the session is listed on the Keys page", async ({
  page,
  context,
}) => {
  await signIn(page, "#/keys");
  const cookie = (await context.cookies()).find((c) => c.name === "maas_session");
  expect(cookie?.httpOnly).toBe(true);
  expect(cookie?.sameSite).toBe("Strict");
  expect((cookie?.expires ?? 0) * 1000).toBeGreaterThan(Date.now() + 29 * 86_400_000);
  // The page's script cannot read it.
  expect(await page.evaluate(() => document.cookie)).not.toContain("maas_session");
  await expect(page.getByTestId("this-browser")).toBeVisible();
  const tab = await context.newPage();
  await tab.goto(`${state().url}/#/models`);
  await expect(tab.getByTestId("server-state")).toContainText("serving");
  await tab.reload();
  await expect(tab.getByRole("heading", { level: 1, name: "Models" })).toBeVisible();
  await tab.close();
});

test("revoking this browser's session signs it out with the reason, not 'server unreachable'", async ({ page }) => {
  await signIn(page, "#/keys");
  const row = page.getByTestId("key-row").filter({ has: page.getByTestId("this-browser") });
  await row.getByRole("button", { name: "Revoke" }).click();
  await page.getByTestId("confirm-revoke").click();
  await expect(page.getByLabel("Management key")).toBeVisible({ timeout: 10_000 });
  await expect(page.getByText(/signed out/i)).toBeVisible();
});

test("a sign-in link pasted into a tab that shows sign-in works without a reload", async ({ page }) => {
  const { url } = state();
  await page.goto(`${url}/`);
  await expect(page.getByLabel("Management key")).toBeVisible();
  // A fresh link, as a restart of serve would print (made here through the core's own sign-in codes).
  const link = await freshLink();
  await page.goto(link);
  await expect(page.getByTestId("server-state")).toContainText("serving");
  expect(page.url()).not.toContain("signin=");
});

test("a management-only key signs in, and the session can chat in the Playground", async ({ page }) => {
  await signIn(page, "#/playground", state().managementOnlyKey);
  await page.getByTestId("new-chat").click();
  await page.getByTestId("max-tokens").fill("4");
  await page.getByTestId("chat-input").fill("hi");
  await page.getByTestId("chat-input").press("Enter");
  await expect(page.getByTestId("message-assistant").last().getByTestId("stat-tps")).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId("message-error")).toHaveCount(0);
});

test("an inference-only key is refused at sign-in with the command that makes a usable one", async ({ page }) => {
  const { key } = await admin<{ key: string }>("/api/admin/keys", {
    method: "POST",
    json: { name: "inference only", scopes: ["inference"] },
  });
  await page.goto(`${state().url}/`);
  await page.getByLabel("Management key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByText("--scope inference,management").first()).toBeVisible();
});

/** A new one-time link, as the Keys page's "Sign in another browser" makes one. */
async function freshLink(): Promise<string> {
  return (await admin<{ link: string }>("/api/admin/sign-in-link", { method: "POST" })).link;
}
