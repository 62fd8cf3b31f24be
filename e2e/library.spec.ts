import { existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, type Page, test } from "@playwright/test";
import type { Download } from "../src-renderer/src/types.js";
import { admin, shot, signIn, state } from "./helpers.js";

test.use({ viewport: { width: 1280, height: 900 } });

/** What the loopback hub was asked for, in order. */
async function hubRequests(): Promise<Array<{ method: string; path: string; range: string | null }>> {
  return (await fetch(`${state().hubUrl}/__requests`)).json();
}

async function search(page: Page, text: string) {
  await page.getByTestId("hf-search").fill(text);
  await page.getByRole("button", { name: "Search", exact: true }).click();
}

test("a truncated GGUF in the models folder is listed with its reason, and Rescan updates the list", async ({ page }) => {
  const { dir } = state();
  const broken = join(dir, "models", "broken-half.gguf");
  const whole = readFileSync(join(dir, "models", "tiny-chat.gguf"));
  writeFileSync(broken, whole.subarray(0, Math.floor(whole.length / 2)));
  try {
    await signIn(page, "#/models");
    await page.getByTestId("rescan").click();
    const item = page.getByTestId("unreadable-file").filter({ hasText: "broken-half.gguf" });
    await expect(item).toBeVisible({ timeout: 20_000 });
    await expect(item).toContainText("the file is truncated");
    await expect(page.getByTestId("unreadable")).toContainText("cannot be used");
    await shot(page, "models-unreadable");
  } finally {
    rmSync(broken, { force: true });
  }
  // Gone from the folder: the next rescan forgets it.
  await page.getByTestId("rescan").click();
  await expect(page.getByTestId("unreadable-file").filter({ hasText: "broken-half.gguf" })).toHaveCount(0, {
    timeout: 20_000,
  });
});

test("a model whose file is damaged after it joined the library: Load fails, and the toast and its row show llama.cpp's reason", async ({
  page,
}) => {
  test.setTimeout(120_000);
  const { dir } = state();
  const file = join(dir, "models", "damaged.gguf");
  // A good file joins the library, then loses its tensor data on disk (header intact): only the load can tell.
  writeFileSync(file, readFileSync(join(dir, "models", "tiny-chat.gguf")));
  try {
    await admin("/api/admin/models/scan", { method: "POST" });
    truncateSync(file, 300_000);
    await signIn(page, "#/models");
    await page.getByTestId("load-damaged").click();
    const toast = page.locator(".mantine-Notification-root", { hasText: "damaged did not load" });
    await expect(toast).toBeVisible({ timeout: 60_000 });
    const row = page.getByTestId("load-error-damaged");
    await expect(row).toBeVisible({ timeout: 15_000 });
    await expect(page.getByTestId("state-damaged")).toHaveText("error");
    // What the admin API says is what both show, in full, and it is llama.cpp's reason, not a generic text.
    const library = await admin<{ data: Array<{ id: string; load: { error: string | null } | null }> }>("/api/admin/library");
    const reason = library.data.find((m) => m.id === "damaged")?.load?.error ?? "";
    await expect(row).toContainText(reason);
    await expect(toast).toContainText(reason.replace(/^Model 'damaged' failed to load: /, ""));
    await shot(page, "models-load-failed");
    await expect(row).toContainText(/not within the file bounds|corrupted or incomplete/);
    await expect(toast).toContainText(/not within the file bounds|corrupted or incomplete/);
  } finally {
    await admin("/api/admin/models/damaged", { method: "DELETE" }).catch(() => {});
    rmSync(file, { force: true });
  }
});

test("Hugging Face failures say what happened: no results, unreachable, a missing and a gated repository", async ({ page }) => {
  const { url, adminKey } = state();
  const headers = { authorization: `Bearer ${adminKey}` };
  // The API: a hub that cannot be reached is a 502 that says so, not a 500.
  const offline = await fetch(`${url}/api/admin/hf/search?q=offline`, { headers });
  expect(offline.status).toBe(502);
  expect((await offline.json()).error.message).toMatch(/^Could not reach 127\.0\.0\.1:\d+: /);
  expect((await fetch(`${url}/api/admin/hf/files?repo=acme/gated-GGUF`, { headers })).status).toBe(403);
  expect((await fetch(`${url}/api/admin/hf/files?repo=acme/missing-GGUF`, { headers })).status).toBe(404);

  await signIn(page, "#/models");
  await search(page, "zzz-nothing-like-this");
  await expect(page.getByTestId("hf-no-results")).toContainText("No GGUF repositories match");
  await search(page, "offline");
  await expect(page.getByTestId("hf-search-error")).toContainText("Could not reach");
  await expect(page.getByTestId("hf-search-error")).not.toContainText("server had an error");
  await search(page, "acme/missing-GGUF");
  await expect(page.getByTestId("hf-files-error")).toContainText("no repository acme/missing-GGUF");
  await search(page, "acme/gated-GGUF");
  await expect(page.getByTestId("hf-files-error")).toContainText("gated or private");
  await expect(page.getByTestId("hf-files-error")).toContainText("HF_TOKEN");
  await shot(page, "models-hf-gated");
  await search(page, "acme/empty-GGUF");
  await expect(page.getByTestId("hf-files-empty")).toContainText("has no GGUF files");
  // A reference that names no file is an error on the field itself.
  await page.getByTestId("hf-ref").fill("hf:acme/demo-GGUF/nope.gguf");
  await page.getByTestId("hf-ref-pull").click();
  await expect(page.getByText("'nope.gguf' is not a GGUF file in acme/demo-GGUF.")).toBeVisible();
});

test("a file whose SHA-256 does not match says so, is deleted, and offers a fresh download", async ({ page }) => {
  await signIn(page, "#/models");
  // Pasted as a link copied from the website (the `blob` page link): the same parser as `maas-base models pull`.
  await page.getByTestId("hf-ref").fill("https://huggingface.co/acme/liar-GGUF/blob/main/liar-Q8_0.gguf");
  await page.getByTestId("hf-ref-pull").click();
  const item = page.locator('[data-testid="download"]', { hasText: "liar-Q8_0.gguf" }).first();
  await expect(item.getByTestId("download-status")).toHaveText("failed", { timeout: 30_000 });
  await expect(item.getByTestId("download-error")).toContainText(
    "The file's SHA-256 does not match the hub's: the download was deleted.",
  );
  await expect(item.getByTestId("download-retry")).toHaveText("Download again");
  await expect(item.getByTestId("download-resume")).toHaveCount(0);
  // The bar is not a full one: nothing was kept.
  await expect(item.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "0");
  await shot(page, "download-checksum-failed");
  expect(existsSync(join(state().dir, "models", "liar-Q8_0.gguf"))).toBe(false);
});

test("pause keeps the partial file, resume continues it with a ranged request, cancel asks and deletes", async ({ page }) => {
  test.setTimeout(120_000);
  const { dir } = state();
  await signIn(page, "#/models");
  await search(page, "slow");
  await page.getByRole("button", { name: "acme/slow-GGUF" }).click();
  await page.getByRole("button", { name: "Download", exact: true }).click();
  const item = page.locator('[data-testid="download"]', { hasText: "slow-Q8_0.gguf" }).first();
  await expect(item.getByTestId("download-status")).toHaveText("downloading", { timeout: 15_000 });
  // Speed and time left only once a second or more was measured; then both are there.
  await expect(item.getByTestId("download-progress")).toContainText(/\/s · .* left/, { timeout: 15_000 });
  await shot(page, "download-speed");
  const id = (await admin<{ data: Download[] }>("/api/admin/downloads")).data.find((d) => d.fileName === "slow-Q8_0.gguf")
    ?.id as string;
  // Past the first four 5 MB chunks (see e2e/hub.ts), so there is finished work to keep.
  const CHUNK = 5 * 1024 * 1024;
  await expect
    .poll(
      async () => (await admin<{ data: Download[] }>("/api/admin/downloads")).data.find((d) => d.id === id)?.downloadedBytes ?? 0,
      { timeout: 30_000, intervals: [100] },
    )
    .toBeGreaterThan(4 * CHUNK + 2 * 1024 * 1024);
  await item.getByTestId("download-pause").click();
  await expect(item.getByTestId("download-status")).toHaveText("paused", { timeout: 10_000 });
  await expect(item.getByTestId("download-progress")).toContainText("Resume continues from here");
  const staging = join(dir, "models", ".downloads", id);
  const partial = readdirSync(staging).map((f) => statSync(join(staging, f)).size);
  expect(Math.max(...partial)).toBeGreaterThan(0);
  const paused = (await admin<{ data: Download[] }>("/api/admin/downloads")).data.find((d) => d.id === id) as Download;
  expect(paused.downloadedBytes).toBeGreaterThan(0);
  await shot(page, "download-paused");

  const before = (await hubRequests()).length;
  await item.getByTestId("download-resume").click();
  await expect(item.getByTestId("download-status")).toHaveText("downloading", { timeout: 10_000 });
  // (The downloader asks once without a range, for the headers, then fetches its chunks by range.)
  await expect
    .poll(
      async () =>
        (await hubRequests()).slice(before).filter((r) => r.method === "GET" && r.path.endsWith("slow-Q8_0.gguf") && r.range)
          .length,
      { timeout: 15_000 },
    )
    .toBeGreaterThan(0);
  const resumed = (await hubRequests()).slice(before).filter((r) => r.method === "GET" && r.path.endsWith("slow-Q8_0.gguf"));
  // The hub sees ranged requests that skip what was kept: ipull resumes by 5 MB chunk, so
  // the chunks finished before the pause are not fetched again.
  const ranges = resumed.map((r) => /^bytes=(\d+)-(\d+)$/.exec(r.range ?? "")).filter((m) => m !== null);
  expect(ranges.length, JSON.stringify(resumed)).toBeGreaterThan(0);
  expect(ranges.some((m) => Number(m[1]) > 0)).toBe(true);
  const refetched = ranges.reduce((n, m) => n + Number(m[2]) - Number(m[1]) + 1, 0);
  expect(refetched).toBeLessThanOrEqual(30 * 1024 * 1024 - CHUNK);

  // Cancel asks first; keeping it keeps downloading.
  await item.getByTestId("download-cancel").click();
  await expect(page.getByRole("dialog", { name: "Cancel this download?" })).toBeVisible();
  await shot(page, "download-cancel-confirm");
  await page.getByRole("button", { name: "Keep downloading" }).click();
  await expect(item.getByTestId("download-status")).toHaveText("downloading");
  await item.getByTestId("download-cancel").click();
  await page.getByTestId("confirm-cancel-download").click();
  await expect(item.getByTestId("download-status")).toHaveText("cancelled", { timeout: 10_000 });
  await expect.poll(() => existsSync(staging)).toBe(false);
});
