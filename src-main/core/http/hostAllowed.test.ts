import { describe, expect, it } from "vitest";
import { hostAllowed } from "./server.js";

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
});
