import { describe, expect, it } from "vitest";
import { hostAllowed, parseHostHeader } from "./server.js";

describe("hostAllowed", () => {
  it("accepts loopback names with any port and refuses other names", () => {
    expect(hostAllowed("localhost:8421", "127.0.0.1", [])).toBe(true);
    expect(hostAllowed("127.0.0.1:1", "127.0.0.1", [])).toBe(true);
    expect(hostAllowed("[::1]:8421", "127.0.0.1", [])).toBe(true);
    expect(hostAllowed("evil.example", "127.0.0.1", [])).toBe(false);
    expect(hostAllowed(undefined, "127.0.0.1", [])).toBe(false);
  });

  it("accepts configured names and the bound LAN address", () => {
    expect(hostAllowed("box.lan:8421", "0.0.0.0", ["box.lan"])).toBe(true);
    expect(hostAllowed("192.168.1.5:8421", "192.168.1.5", [])).toBe(true);
    expect(hostAllowed("anything", "0.0.0.0", ["*"])).toBe(true);
  });

  it("reads only a hostname and a port; brackets only around an IPv6 literal", () => {
    expect(parseHostHeader("[::1]:8421")).toEqual({ hostname: "[::1]", port: 8421 });
    expect(parseHostHeader("LocalHost")).toEqual({ hostname: "localhost", port: null });
    for (const bad of [
      "[::1].evil.com",
      "[::1]evil.com:80",
      "localhost:8421@evil.com",
      "[evil.com]",
      "localhost:99999",
      "a b",
      "",
    ]) {
      expect(parseHostHeader(bad), bad).toBeNull();
      expect(hostAllowed(bad, "127.0.0.1", ["*"]), bad).toBe(false);
    }
  });
});
