import { expect, test } from "@playwright/test";
import { signIn, state } from "./helpers.js";

test("the first screen loads ≤ 300 KB of compressed JavaScript, hashed files are immutable, and nothing 404s", async ({
  page,
}) => {
  const scripts: Array<{ url: string; encoded: number; encoding: string | null; cache: string | null }> = [];
  const failures: string[] = [];
  page.on("console", (m) => m.type() === "error" && failures.push(m.text()));
  let measuring = true;
  const pending: Array<Promise<void>> = [];
  page.on("response", (res) => {
    if (res.status() >= 400 && !res.url().includes("/api/")) failures.push(`${res.status()} ${res.url()}`);
    if (!measuring || res.request().resourceType() !== "script") return;
    pending.push(measure(res));
  });
  const measure = async (res: import("@playwright/test").Response) => {
    const sizes = await res.request().sizes();
    const headers = await res.allHeaders();
    scripts.push({
      url: res.url(),
      encoded: sizes.responseBodySize,
      encoding: headers["content-encoding"] ?? null,
      cache: headers["cache-control"] ?? null,
    });
  };
  await page.goto(`${state().url}/`);
  await expect(page.getByLabel("Management key")).toBeVisible();
  await page.waitForLoadState("networkidle");
  measuring = false;
  await Promise.all(pending);
  const total = scripts.reduce((n, s) => n + s.encoded, 0);
  console.log(`initial JavaScript: ${scripts.length} files, ${(total / 1024).toFixed(1)} KB compressed`);
  expect(total).toBeLessThanOrEqual(300 * 1024);
  for (const s of scripts) {
    expect(["br", "gzip"], s.url).toContain(s.encoding);
    expect(s.cache, s.url).toContain("immutable");
  }
  const html = await fetch(`${state().url}/`, { headers: { "accept-encoding": "gzip" } });
  expect(html.headers.get("cache-control")).toBe("no-cache");
  const icon = await fetch(`${state().url}/favicon.svg`);
  expect(icon.status).toBe(200);
  // The dashboard after sign-in: its chunk loads on demand, and still nothing fails.
  await signIn(page, "#/dashboard");
  expect(failures).toEqual([]);
});
