import { describe, expect, it } from "vitest";
import { routeAllowed } from "./apiKeys.js";
import { globMatches } from "./routes.js";

describe("a key's allowed routes", () => {
  it("allow every route when there is no list", () => {
    expect(routeAllowed(null, "tiny-chat")).toBe(true);
    expect(routeAllowed(undefined, "claude-opus-5-5")).toBe(true);
  });

  it("match names exactly and globs as glob aliases do", () => {
    const allowed = ["claude-*", "tiny-embed"];
    expect(routeAllowed(allowed, "claude-opus-5-5")).toBe(true);
    expect(routeAllowed(allowed, "claude-")).toBe(true);
    expect(routeAllowed(allowed, "claude-*")).toBe(true);
    expect(routeAllowed(allowed, "tiny-embed")).toBe(true);
    expect(routeAllowed(allowed, "tiny-chat")).toBe(false);
    expect(routeAllowed(allowed, "my-claude-opus")).toBe(false);
    expect(routeAllowed(["gpt-*-mini"], "gpt-5-mini")).toBe(true);
    expect(routeAllowed(["gpt-*-mini"], "gpt-5")).toBe(false);
    // The same matcher as glob aliases: whatever one accepts, the other does.
    for (const name of ["claude-opus-5-5", "claude", "xclaude-1", "claude-haiku-5-5"]) {
      expect(routeAllowed(["claude-*"], name)).toBe(globMatches("claude-*", name));
    }
  });

  it("treat regular-expression characters literally", () => {
    expect(routeAllowed(["qwen2.5-*"], "qwen2.5-7b")).toBe(true);
    expect(routeAllowed(["qwen2.5-*"], "qwen2x5-7b")).toBe(false);
    expect(routeAllowed(["a+b"], "aab")).toBe(false);
  });
});
