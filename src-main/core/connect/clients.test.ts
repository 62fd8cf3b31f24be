import { describe, expect, it } from "vitest";
import { buildConnection, codexToml, lineDiff } from "./clients.js";

describe("client configurations", () => {
  it("replaces Codex's model and provider settings and keeps the rest of config.toml", () => {
    const before = [
      'model = "gpt-5"',
      'approval_policy = "never"',
      "",
      "[model_providers.maas-base]",
      'base_url = "http://old/v1"',
      "",
      "[features]",
      "multi_agent = true",
      "",
    ].join("\n");
    const after = codexToml(before, { url: "http://127.0.0.1:8421", model: "qwen", contextSize: 32768 });
    expect(after).toContain('model = "qwen"\nmodel_provider = "maas-base"\nmodel_context_window = 32768\n');
    expect(after).toContain('approval_policy = "never"');
    expect(after).toContain("[features]\nmulti_agent = true");
    expect(after).not.toContain("http://old/v1");
    expect(after).toContain('[model_providers.maas-base]\nname = "MaaS-Base"\nbase_url = "http://127.0.0.1:8421/v1"');
    expect(after).toContain('wire_api = "responses"');
    expect(after.match(/^model = /gm)).toHaveLength(1);
    expect(codexToml(after, { url: "http://127.0.0.1:8421", model: "qwen", contextSize: 32768 })).toBe(after);
  });

  it("merges Claude Code's settings.json env and warns when the context is smaller than the first request", () => {
    const path = "/h/.claude/settings.json";
    const connection = buildConnection({
      client: "claude-code",
      url: "http://127.0.0.1:8421",
      key: "k",
      model: "m",
      contextSize: 8192,
      current: { [path]: '{"theme":"dark","env":{"FOO":"1"}}' },
    });
    expect(connection.aliases).toEqual(["claude-*"]);
    expect(JSON.parse(connection.files[0]?.after ?? "")).toEqual({
      theme: "dark",
      env: {
        FOO: "1",
        ANTHROPIC_BASE_URL: "http://127.0.0.1:8421",
        ANTHROPIC_AUTH_TOKEN: "k",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      },
    });
    expect(connection.notes[0]).toMatch(/41000 tokens, more than the 8192/);
  });

  it("diffs line by line", () => {
    expect(lineDiff("a\nb\nc\n", "a\nx\nc\n")).toBe("  a\n+ x\n- b\n  c");
    expect(lineDiff("", "new\n")).toBe("+ new");
  });
});
