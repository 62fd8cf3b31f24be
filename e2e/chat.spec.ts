import { expect, test } from "@playwright/test";
import { admin, shot, signIn } from "./helpers.js";

test.use({ viewport: { width: 1280, height: 800 } });

test("the chat: Enter sends, Shift+Enter breaks the line, follows the stream, and keeps the conversation across pages and reloads", async ({
  page,
}) => {
  await signIn(page, "#/playground");
  await page.getByTestId("new-chat").click();
  await page.getByTestId("max-tokens").fill("200");
  const input = page.getByTestId("chat-input");
  await input.fill("line one");
  await input.press("Shift+Enter");
  await input.pressSequentially("line two");
  await expect(input).toHaveValue("line one\nline two");
  await input.press("Enter");
  const answer = page.getByTestId("message-assistant").last();
  // The first chat model may still be loading (its progress shows until the first token).
  await expect(answer.getByTestId("stat-tps")).toBeVisible({ timeout: 60_000 });
  await expect(page.getByTestId("message-user").last()).toContainText("line two");
  // The end of the answer and its figures are in view: the thread followed the stream.
  const scroll = page.getByTestId("chat-scroll");
  const gap = await scroll.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
  expect(gap).toBeLessThan(4);
  await expect(answer.getByTestId("stat-tps")).toBeInViewport();
  // The chat fills the window's height instead of a fixed 420 px box.
  const box = await scroll.boundingBox();
  expect(box?.height ?? 0).toBeGreaterThan(450);

  // Saved, with a date, and still there after another page and after a reload.
  const item = page.getByTestId("conversation").first();
  await expect(item).toContainText("line one");
  await expect(item).toContainText(String(new Date().getFullYear()));
  await page.getByTestId("nav-models").click();
  await page.getByTestId("nav-playground").click();
  await expect(page.getByTestId("message-user").last()).toContainText("line two");
  await page.getByTestId("chat-input").fill("a draft");
  await page.reload();
  await expect(page.getByTestId("message-user").last()).toContainText("line two");
  await expect(page.getByTestId("chat-input")).toHaveValue("a draft");
  await shot(page, "playground-chat-full-height");

  // Edit in place, then cancel: nothing is lost.
  const users = await page.getByTestId("message-user").count();
  await page.getByTestId("message-user").last().getByTestId("edit").click();
  await expect(page.getByTestId("edit-input")).toHaveValue("line one\nline two");
  await page.getByTestId("edit-cancel").click();
  await expect(page.getByTestId("message-user")).toHaveCount(users);
  await expect(page.getByTestId("message-assistant").last().getByTestId("stat-tps")).toBeVisible();
});

test("conversations can be renamed and deleted", async ({ page }) => {
  const saved = await admin<{ id: string }>("/api/admin/conversations", {
    method: "POST",
    json: { title: "to rename", model: "tiny-chat", data: { threads: { "tiny-chat": [] }, models: ["tiny-chat"] } },
  });
  await signIn(page, "#/playground");
  const item = page.getByTestId("conversation").filter({ hasText: "to rename" });
  await item.getByTestId("rename").click();
  await page.getByTestId("rename-input").fill("renamed chat");
  await page.getByTestId("rename-input").press("Enter");
  const renamed = page.getByTestId("conversation").filter({ hasText: "renamed chat" });
  await expect(renamed).toBeVisible();
  await renamed.getByTestId("delete").click();
  await renamed.getByTestId("confirm-delete").click();
  await expect(page.getByTestId("conversation").filter({ hasText: "renamed chat" })).toHaveCount(0);
  expect((await admin<{ data: Array<{ id: string }> }>("/api/admin/conversations")).data.map((c) => c.id)).not.toContain(
    saved.id,
  );
});

test("code blocks are themed for light and dark with copy buttons; View code has curl, Python and JavaScript", async ({
  page,
  context,
}) => {
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  const code = 'const answer = 42;\nconsole.log("answer", answer);';
  await admin("/api/admin/conversations", {
    method: "POST",
    json: {
      title: "code sample",
      model: "tiny-chat",
      data: {
        models: ["tiny-chat"],
        threads: {
          "tiny-chat": [
            { id: "u1", role: "user", content: "Show me code" },
            { id: "a1", role: "assistant", content: `Here:\n\n\`\`\`js\n${code}\n\`\`\`\n\n| a | b |\n|---|---|\n| 1 | 2 |` },
          ],
        },
      },
    },
  });
  await signIn(page, "#/playground");
  await page.getByTestId("conversation").filter({ hasText: "code sample" }).click();
  const block = page.getByTestId("code-block");
  await expect(block).toBeVisible();
  await expect(page.locator(".markdown table td").first()).toHaveText("1");
  await block.getByTestId("copy-code").click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(code);
  const background = () => block.locator("pre").evaluate((el) => getComputedStyle(el).backgroundColor);
  await page.evaluate(() => document.documentElement.setAttribute("data-mantine-color-scheme", "light"));
  const light = await background();
  await page.evaluate(() => document.documentElement.setAttribute("data-mantine-color-scheme", "dark"));
  const dark = await background();
  expect(light).not.toBe(dark);
  expect(light).not.toBe("rgba(0, 0, 0, 0)");
  await shot(page, "playground-code-dark");
  await page.evaluate(() => document.documentElement.setAttribute("data-mantine-color-scheme", "light"));

  await page.getByTestId("view-code").click();
  await expect(page.getByTestId("snippet-curl")).toContainText("/v1/chat/completions");
  await expect(page.getByTestId("snippet-curl")).not.toContainText("Hello");
  await page.getByRole("tab", { name: "Python" }).click();
  await expect(page.getByTestId("snippet-python")).toContainText("import os");
  await expect(page.getByTestId("snippet-python")).toContainText('os.environ["MAAS_KEY"]');
  await page.getByTestId("copy-python").click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toContain("from openai import OpenAI");
  await page.getByRole("tab", { name: "JavaScript" }).click();
  await expect(page.getByTestId("snippet-javascript")).toContainText("new OpenAI(");
  await shot(page, "playground-view-code");
});

test("an invalid JSON schema is an error on the field, and nothing is sent", async ({ page }) => {
  await signIn(page, "#/playground");
  await page.getByTestId("new-chat").click();
  await page.getByTestId("json-schema").fill("{ not json");
  await expect(page.getByText("Not valid JSON")).toBeVisible();
  await page.getByTestId("chat-input").fill("hello");
  await expect(page.getByTestId("send")).toBeDisabled();
  await page.getByTestId("chat-input").press("Enter");
  await expect(page.getByTestId("message-user")).toHaveCount(0);
  await page.getByTestId("json-schema").fill("");
});
