import { describe, expect, it } from "vitest";
import { chooseCpu, cpuPinEnabled, parseCpuList } from "./cpuPin.js";

describe("parseCpuList", () => {
  it("reads the kernel's CPU lists", () => {
    expect(parseCpuList("0-3,8,10-11\n")).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(parseCpuList("5")).toEqual([5]);
    expect(parseCpuList("")).toEqual([]);
    expect(parseCpuList("x,2")).toEqual([2]);
  });
});

describe("chooseCpu", () => {
  it("takes a CPU the fewest engines hold, at random among equals", () => {
    expect(chooseCpu([0, 1, 2], [0, 2], () => 0.99)).toBe(1);
    expect(chooseCpu([0, 1], [], () => 0)).toBe(0);
    expect(chooseCpu([0, 1], [], () => 0.99)).toBe(1);
    expect(chooseCpu([0, 1], [1, 1, 0], () => 0.5)).toBe(0);
    // A CPU the server may not use (its held count ignored) is never chosen.
    expect(chooseCpu([2, 3], [0, 0, 3], () => 0)).toBe(2);
  });

  it("does not pin with fewer than two CPUs", () => {
    expect(chooseCpu([4], [])).toBeNull();
    expect(chooseCpu([], [])).toBeNull();
  });
});

describe("cpuPinEnabled", () => {
  it("is on unless turned off", () => {
    expect(cpuPinEnabled({})).toBe(true);
    expect(cpuPinEnabled({ MAAS_ENGINE_CPU_PIN: "on" })).toBe(true);
    for (const off of ["off", "0", "false", " OFF "]) expect(cpuPinEnabled({ MAAS_ENGINE_CPU_PIN: off })).toBe(false);
  });
});
