import { describe, expect, it } from "vitest";
import { StopText } from "./stopText.js";

const run = (stops: string[], pieces: string[]) => {
  const matcher = new StopText(stops);
  let text = "";
  for (const piece of pieces) {
    const out = matcher.push(piece);
    text += out.text;
    if (out.stop !== undefined) return { text, stop: out.stop };
  }
  return { text: text + matcher.flush(), stop: undefined };
};

describe("StopText", () => {
  it("holds back a possible start of a stop sequence until the next text rules it out", () => {
    const matcher = new StopText(["END"]);
    expect(matcher.push("the E")).toEqual({ text: "the " });
    expect(matcher.push("N")).toEqual({ text: "" });
    expect(matcher.push("d")).toEqual({ text: "ENd" });
  });
  it("a stop sequence split over pieces ends the text before it", () => {
    expect(run(["END"], ["ab E", "N", "D and more"])).toEqual({ text: "ab ", stop: "END" });
  });
  it("the earliest of several stop sequences wins", () => {
    expect(run(["cd", "b"], ["abcd"])).toEqual({ text: "a", stop: "b" });
    expect(run(["xyz", "yz"], ["axy", "z"])).toEqual({ text: "a", stop: "xyz" });
  });
  it("flush hands over what was held when generation ends otherwise", () => {
    const matcher = new StopText(["a~~"]);
    expect(matcher.push("banana").text).toBe("banan");
    expect(matcher.push("~").text).toBe("");
    expect(matcher.flush()).toBe("a~");
  });
  it("no stop sequences: everything passes at once", () => {
    expect(run([], ["a", "b"])).toEqual({ text: "ab", stop: undefined });
    expect(run([""], ["a"])).toEqual({ text: "a", stop: undefined });
  });
});
