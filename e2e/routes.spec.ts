import { expect, type Page, test } from "@playwright/test";
import type { RoutePublic } from "../src-main/core/contract/index.js";
import { admin, expectAccessible, shot, signIn, state } from "./helpers.js";

test.use({ viewport: { width: 1280, height: 900 } });

const target = (page: Page, n: number) => page.getByTestId(`route-target-${n}`);

async function storedRoute(name: string): Promise<RoutePublic | undefined> {
  return (await admin<{ data: RoutePublic[] }>("/api/admin/routes")).data.find((r) => r.name === name);
}

test("Routes: a route with two targets and a fallback is made in the form, stored as given, and edited to three", async ({
  page,
}) => {
  const upstream = `${state().hubUrl}/v1`;
  await signIn(page, "#/routes");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Routes");
  await page.getByRole("button", { name: "New route" }).click();
  const dialog = page.getByRole("dialog", { name: "New route" });
  await dialog.getByLabel("Name (what clients send as model)").fill("e2e-two-targets");

  // Target 1: the local model.
  await target(page, 1).getByRole("textbox", { name: "Target 1: local model" }).click();
  await page.getByRole("option", { name: "tiny-chat", exact: true }).click();
  await target(page, 1).getByRole("textbox", { name: "Target 1: weight" }).fill("3");

  // Target 2: an upstream with its own key, used only when the model fails.
  await dialog.getByRole("button", { name: "Add target" }).click();
  await target(page, 2).getByText("Upstream", { exact: true }).click();
  // Saved without its URL: the error names the target in the form's words, not a parameter path.
  await dialog.getByRole("button", { name: "Save" }).click();
  const problem = page.getByRole("alert").filter({ hasText: "Route not saved" });
  await expect(problem).toContainText("Target 2: An upstream target needs an http(s) base URL.");
  await expect(dialog).toBeVisible();
  await problem.getByRole("button", { name: "Close" }).click();
  await expect(problem).toHaveCount(0);
  await target(page, 2).getByRole("textbox", { name: "Target 2: upstream base URL" }).fill(upstream);
  await target(page, 2).getByLabel("Target 2: upstream key (optional)").fill("up-secret-e2e");
  await target(page, 2).getByRole("switch", { name: "Target 2: fallback only" }).check();
  await expectAccessible(page, "routes (new route, two targets)");
  await shot(page, "routes-two-targets");
  await dialog.getByRole("button", { name: "Save" }).click();
  await expect(dialog).toBeHidden();

  const row = page.getByRole("row").filter({ hasText: "e2e-two-targets" });
  await expect(row).toContainText("model tiny-chat · weight 3");
  await expect(row).toContainText(`upstream ${upstream} · weight 1 · key set · fallback`);
  const created = await storedRoute("e2e-two-targets");
  expect(created).toMatchObject({
    genericProxy: false,
    enabled: true,
    targets: [
      { kind: "model", modelId: "tiny-chat", weight: 3, fallback: false, hasUpstreamKey: false },
      { kind: "upstream", upstreamUrl: upstream, weight: 1, fallback: true, hasUpstreamKey: true },
    ],
  });
  // The public shape never carries the key.
  expect(JSON.stringify(created)).not.toContain("up-secret-e2e");

  // Edit: a third target (a process), the stored upstream key kept without retyping it.
  await row.getByRole("button", { name: "Edit" }).click();
  const edit = page.getByRole("dialog", { name: "Edit route" });
  await expect(target(page, 2).getByLabel("Target 2: upstream key (leave empty to keep)")).toHaveValue("");
  await edit.getByRole("button", { name: "Add target" }).click();
  await target(page, 3).getByText("Process", { exact: true }).click();
  await target(page, 3).getByRole("textbox", { name: "Target 3: command ({port} is replaced)" }).fill("node -e 0 {port}");
  await target(page, 3).getByRole("textbox", { name: "Target 3: weight" }).fill("2");
  await expectAccessible(page, "routes (edit route, three targets)");
  await edit.getByRole("button", { name: "Save" }).click();
  await expect(edit).toBeHidden();
  await expect(row).toContainText("process node -e 0 {port} · weight 2");

  const edited = await storedRoute("e2e-two-targets");
  expect(edited?.id).toBe(created?.id);
  expect(edited?.targets).toMatchObject([
    { kind: "model", modelId: "tiny-chat", weight: 3, fallback: false },
    { kind: "upstream", upstreamUrl: upstream, fallback: true, hasUpstreamKey: true },
    { kind: "process", command: "node -e 0 {port}", weight: 2, fallback: false, hasUpstreamKey: false },
  ]);

  // Removing target 1 in the form keeps target 2's key (matched by its id, not its place).
  await row.getByRole("button", { name: "Edit" }).click();
  await target(page, 1).getByRole("button", { name: "Remove target 1" }).click();
  await expect(target(page, 3)).toHaveCount(0);
  await edit.getByRole("button", { name: "Save" }).click();
  await expect(edit).toBeHidden();
  const trimmed = await storedRoute("e2e-two-targets");
  expect(trimmed?.targets).toMatchObject([
    { kind: "upstream", upstreamUrl: upstream, fallback: true, hasUpstreamKey: true },
    { kind: "process", hasUpstreamKey: false },
  ]);

  await row.getByRole("button", { name: "Remove" }).click();
  await expect(row).toHaveCount(0);
});
