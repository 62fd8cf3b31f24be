import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../errors.js";
import { parseRerank, toCohereRerank, toJinaRerank } from "./rerank.js";

const result = { scores: [0.1, 0.9, 0.5], promptTokens: 30, truncated: [] };

describe("rerank translation", () => {
  it("accepts strings and {text} documents and sorts by score with original indexes", () => {
    const parsed = parseRerank({ model: "r", query: "q", documents: ["a", { text: "b" }, "c"] });
    expect(parsed.request.documents).toEqual(["a", "b", "c"]);
    const jina = toJinaRerank(parsed, result);
    expect(jina.results).toEqual([
      { index: 1, relevance_score: 0.9, document: { text: "b" } },
      { index: 2, relevance_score: 0.5, document: { text: "c" } },
      { index: 0, relevance_score: 0.1, document: { text: "a" } },
    ]);
    expect(jina.usage).toEqual({ prompt_tokens: 30, total_tokens: 30 });
  });

  it("honours top_n (larger than the list returns all) and return_documents false", () => {
    const two = parseRerank({ model: "r", query: "q", documents: ["a", "b", "c"], top_n: 2, return_documents: false });
    expect(toJinaRerank(two, result).results).toEqual([
      { index: 1, relevance_score: 0.9 },
      { index: 2, relevance_score: 0.5 },
    ]);
    const many = parseRerank({ model: "r", query: "q", documents: ["a", "b", "c"], top_n: 10 });
    expect(toCohereRerank(many, result, "id1")).toMatchObject({ id: "id1", results: [{ index: 1 }, { index: 2 }, { index: 0 }] });
  });

  it("rejects empty documents, non-string documents and a missing query, naming the field", () => {
    const bad = (body: object) => {
      try {
        parseRerank(body);
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidRequestError);
        return (error as InvalidRequestError).param;
      }
      throw new Error("accepted");
    };
    expect(bad({ model: "r", query: "q", documents: [] })).toBe("documents");
    expect(bad({ model: "r", query: "q", documents: ["a", 3] })).toBe("documents[1]");
    expect(bad({ model: "r", documents: ["a"] })).toBe("query");
    expect(bad({ model: "r", query: "  ", documents: ["a"] })).toBe("query");
  });
});
