import { describe, expect, it } from "vitest";
import {
  contextBounds,
  contextExceededMessage,
  contextToFit,
  DEFAULT_CONTEXT_CAP,
  MIN_DEFAULT_CONTEXT,
  RELOAD_REPLY_ROOM,
} from "./contextSize.js";

describe("context bounds", () => {
  it("give a model its training context up to the cap, and ask memory for at least the minimum", () => {
    expect(contextBounds({ cap: DEFAULT_CONTEXT_CAP, trainContextSize: 32_768 })).toEqual({
      min: MIN_DEFAULT_CONTEXT,
      max: 32_768,
    });
    expect(contextBounds({ cap: 65_536, trainContextSize: 262_144 })).toEqual({ min: MIN_DEFAULT_CONTEXT, max: 65_536 });
  });

  it("never ask for more than the model was trained for, nor a minimum above the max", () => {
    expect(contextBounds({ cap: 65_536, trainContextSize: 4096 })).toEqual({ min: 4096, max: 4096 });
    expect(contextBounds({ cap: 1024, trainContextSize: 4096 })).toEqual({ min: 1024, max: 1024 });
  });

  it("use the cap when the training context is unknown", () => {
    expect(contextBounds({ cap: 16_384, trainContextSize: null })).toEqual({ min: MIN_DEFAULT_CONTEXT, max: 16_384 });
    expect(contextBounds({ cap: 16_384, trainContextSize: 0 })).toEqual({ min: MIN_DEFAULT_CONTEXT, max: 16_384 });
  });

  it("take a model's own setting as given, above the cap too, but not above its training context", () => {
    expect(contextBounds({ explicit: 2048, cap: 65_536, trainContextSize: 32_768 })).toEqual({ min: 2048, max: 2048 });
    expect(contextBounds({ explicit: 100_000, cap: 8192, trainContextSize: 32_768 })).toEqual({ min: 32_768, max: 32_768 });
  });
});

describe("the context-exceeded message", () => {
  const base = { model: "qwen", promptTokens: 41_000, trainContextSize: 131_072 };
  it("names the numbers and the serve flag when the cap is what stops it", () => {
    const text = contextExceededMessage({ ...base, loaded: 8192, cap: 8192 });
    expect(text).toContain("41000 tokens");
    expect(text).toContain("context of 8192");
    expect(text).toContain("trained for 131072");
    expect(text).toContain("--context-size 82000");
  });

  it("points at the model's own setting when one is set", () => {
    expect(contextExceededMessage({ ...base, loaded: 16_384, cap: 65_536, explicit: 16_384 })).toMatch(
      /context size setting is 16384.*82000/,
    );
  });

  it("says memory was the limit when the model got less than it asked for", () => {
    expect(contextExceededMessage({ ...base, loaded: 20_000, cap: 65_536 })).toMatch(/Free memory/);
  });

  it("says no setting helps past the training context", () => {
    expect(contextExceededMessage({ ...base, promptTokens: 140_000, loaded: 65_536, cap: 65_536 })).toMatch(/cannot read/);
  });
});

describe("context growth", () => {
  it("reloads an unpinned model up to its default bound, with room for the reply", () => {
    expect(contextToFit({ cap: 65_536, trainContextSize: 32_768, loaded: 1024, promptTokens: 1500 })).toEqual({
      min: 1500 + RELOAD_REPLY_ROOM,
      max: 32_768,
    });
    expect(contextToFit({ cap: 65_536, trainContextSize: 32_768, loaded: 1024, promptTokens: 1500, maxTokens: 8 })).toEqual({
      min: 1508,
      max: 32_768,
    });
    // A huge max_tokens (Claude Code sends 32000) does not make the reload ask for more than it needs.
    expect(
      contextToFit({ cap: 65_536, trainContextSize: 32_768, loaded: 8192, promptTokens: 31_000, maxTokens: 32_000 }),
    ).toEqual({
      min: 32_024,
      max: 32_768,
    });
    expect(contextToFit({ cap: 65_536, trainContextSize: 32_768, loaded: 8192, promptTokens: 32_000 })).toEqual({
      min: 32_768,
      max: 32_768,
    });
  });

  it("never grows a pinned context, past the cap or training context, or for a prompt longer than either", () => {
    expect(contextToFit({ explicit: 1024, cap: 65_536, trainContextSize: 32_768, loaded: 1024, promptTokens: 1500 })).toBeNull();
    expect(contextToFit({ cap: 1024, trainContextSize: 32_768, loaded: 1024, promptTokens: 1500 })).toBeNull();
    expect(contextToFit({ cap: 65_536, trainContextSize: 4096, loaded: 4096, promptTokens: 5000 })).toBeNull();
    expect(contextToFit({ cap: 65_536, trainContextSize: 32_768, loaded: 8192, promptTokens: 40_000 })).toBeNull();
  });
});
