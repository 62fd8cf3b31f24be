/**
 * Exact digit grammars for numeric ranges: integers between two bounds (negative
 * ones too) and decimals with a fixed number of fraction digits at most.
 */
import { alt, cls, type Expr, lit, NEVER, opt, rep, seq } from "./gbnf.js";

/** Digits an unbounded integer part may have (stays below 2^53, so every value is exact in a double). */
export const MAX_INTEGER_DIGITS = 15;

const DIGIT = cls([[0x30, 0x39]]);
const NONZERO = cls([[0x31, 0x39]]);

function digitClass(from: number, to: number): Expr {
  return from === to ? lit(String(from)) : cls([[0x30 + from, 0x30 + to]]);
}

/** Every digit string of `a.length` characters between `a` and `b` (same length, `a <= b`), leading zeros allowed. */
function sameLength(a: string, b: string): Expr {
  if (a === b) return lit(a);
  const rest = a.length - 1;
  const a0 = Number(a[0]);
  const b0 = Number(b[0]);
  const aTail = a.slice(1);
  const bTail = b.slice(1);
  if (a0 === b0) return seq(lit(String(a0)), sameLength(aTail, bTail));
  const lowFull = /^0*$/.test(aTail);
  const highFull = /^9*$/.test(bTail);
  const options: Expr[] = [];
  let midFrom = a0 + 1;
  let midTo = b0 - 1;
  if (lowFull) midFrom = a0;
  else options.push(seq(lit(String(a0)), sameLength(aTail, "9".repeat(rest))));
  if (highFull) midTo = b0;
  if (midFrom <= midTo) options.push(seq(digitClass(midFrom, midTo), rep(DIGIT, rest, rest)));
  if (!highFull) options.push(seq(lit(String(b0)), sameLength("0".repeat(rest), bTail)));
  return alt(...options);
}

/** Decimal text (no leading zeros) of every integer in [lo, hi], both >= 0; `hi` undefined = up to MAX_INTEGER_DIGITS digits. */
function nonNegativeRange(lo: bigint, hi: bigint | undefined): Expr {
  const cap = 10n ** BigInt(MAX_INTEGER_DIGITS) - 1n;
  const top = hi === undefined || hi > cap ? cap : hi;
  if (lo > top) return NEVER;
  const options: Expr[] = [];
  const loDigits = lo.toString().length;
  const hiDigits = top.toString().length;
  for (let d = loDigits; d <= hiDigits; d++) {
    const from = d === loDigits ? lo : 10n ** BigInt(d - 1);
    const to = d === hiDigits ? top : 10n ** BigInt(d) - 1n;
    if (d === 1) {
      options.push(digitClass(Number(from), Number(to)));
      continue;
    }
    // A whole block of d-digit numbers is shorter as [1-9][0-9]{d-1}.
    if (from === 10n ** BigInt(d - 1) && to === 10n ** BigInt(d) - 1n) options.push(seq(NONZERO, rep(DIGIT, d - 1, d - 1)));
    else options.push(sameLength(from.toString(), to.toString()));
  }
  return alt(...options);
}

/**
 * The decimal text of every integer in [min, max] (either side may be open).
 * Open sides stop at MAX_INTEGER_DIGITS digits; "-0" is never produced.
 */
export function integerRange(min: bigint | undefined, max: bigint | undefined): Expr {
  const options: Expr[] = [];
  if (min === undefined || min < 0n) {
    // Negative part: -(magnitude) for magnitudes in [max(1, -max), -min].
    const magLo = max === undefined || max >= 0n ? 1n : -max;
    const magHi = min === undefined ? undefined : -min;
    if (magHi === undefined || magLo <= magHi) options.push(seq(lit("-"), nonNegativeRange(magLo, magHi)));
  }
  if (max === undefined || max >= 0n) {
    const lo = min === undefined || min < 0n ? 0n : min;
    if (max === undefined || lo <= max) options.unshift(nonNegativeRange(lo, max));
  }
  return options.length === 0 ? NEVER : alt(...options);
}

/** An exact decimal: `value = units / 10^scale`. */
export interface Decimal {
  units: bigint;
  scale: number;
}

/** Parses a JS number's shortest text into an exact decimal (the text the client wrote round-trips to it). */
export function toDecimal(value: number): Decimal {
  const text = value.toString();
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i.exec(text);
  if (!match) throw new RangeError(`Not a finite number: ${text}`);
  const [, sign, whole = "", fraction = "", exponent = "0"] = match;
  let digits = whole + fraction;
  let scale = fraction.length - Number(exponent);
  if (scale < 0) {
    digits += "0".repeat(-scale);
    scale = 0;
  }
  const units = BigInt(digits) * (sign === "-" ? -1n : 1n);
  return { units, scale };
}

/** floor(d * 10^scale) or ceil(...) as bigint. */
export function scaled(d: Decimal, scale: number, round: "floor" | "ceil"): bigint {
  if (scale >= d.scale) return d.units * 10n ** BigInt(scale - d.scale);
  const div = 10n ** BigInt(d.scale - scale);
  const q = d.units / div; // truncates toward zero
  const r = d.units % div;
  if (r === 0n) return q;
  if (round === "floor") return d.units < 0n ? q - 1n : q;
  return d.units < 0n ? q : q + 1n;
}

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

/**
 * Fraction digits (1..`places`) whose value `0.F` lies in [lo, hi] (units of 10^-places).
 * Leading zeros count: "05" is 0.05.
 */
function fractionRange(lo: bigint, hi: bigint, places: number): Expr {
  const options: Expr[] = [];
  for (let k = 1; k <= places; k++) {
    const step = pow10(places - k);
    // F has k digits: value = F * step.
    const fLo = (lo + step - 1n) / step; // ceil, lo >= 0
    const fHi = hi / step;
    const top = pow10(k) - 1n;
    const from = fLo < 0n ? 0n : fLo;
    const to = fHi > top ? top : fHi;
    if (from > to) continue;
    options.push(sameLength(from.toString().padStart(k, "0"), to.toString().padStart(k, "0")));
  }
  return options.length === 0 ? NEVER : alt(...options);
}

/**
 * Non-negative magnitudes m with lo <= m*10^places <= hi (hi undefined = open),
 * written as an integer part and up to `places` fraction digits.
 */
function magnitudeRange(lo: bigint, hi: bigint | undefined, places: number): Expr {
  const unit = pow10(places);
  const anyFraction = opt(seq(lit("."), rep(DIGIT, 1, places)));
  const iLo = lo / unit;
  const iHi = hi === undefined ? undefined : hi / unit;
  const options: Expr[] = [];
  // An integer part at a bound: its fraction is limited to [fLo, fHi].
  const edge = (i: bigint, fLo: bigint, fHi: bigint): Expr[] => {
    const whole = i * unit;
    const fraction = fractionRange(fLo, fHi, places);
    const dotted = fraction === NEVER ? undefined : seq(lit("."), fraction);
    if (whole >= lo && (hi === undefined || whole <= hi))
      return [dotted ? seq(lit(i.toString()), opt(dotted)) : lit(i.toString())];
    return dotted ? [seq(lit(i.toString()), dotted)] : [];
  };
  if (iHi !== undefined && iLo === iHi) {
    options.push(...edge(iLo, lo - iLo * unit, (hi as bigint) - iLo * unit));
  } else {
    const loFrac = lo - iLo * unit;
    let middleFrom = iLo + 1n;
    if (loFrac === 0n) middleFrom = iLo;
    else options.push(...edge(iLo, loFrac, unit - 1n));
    let middleTo = iHi === undefined ? undefined : iHi - 1n;
    const hiFrac = iHi === undefined ? 0n : (hi as bigint) - iHi * unit;
    if (iHi !== undefined && hiFrac === unit - 1n) middleTo = iHi;
    if (middleTo === undefined || middleFrom <= middleTo) {
      options.push(seq(nonNegativeRange(middleFrom, middleTo), anyFraction));
    }
    if (iHi !== undefined && middleTo !== iHi) options.push(...edge(iHi, 0n, hiFrac));
  }
  return options.length === 0 ? NEVER : alt(...options);
}

/**
 * Decimal text of numbers in [min, max] (in units of 10^-places, either side open),
 * with at most `places` fraction digits and no exponent. Bounds hold exactly: the
 * text, read back as a double, never falls outside them.
 */
export function decimalRange(min: bigint | undefined, max: bigint | undefined, places: number): Expr {
  const options: Expr[] = [];
  if (max === undefined || max >= 0n) {
    const lo = min === undefined || min < 0n ? 0n : min;
    if (max === undefined || lo <= max) options.push(magnitudeRange(lo, max, places));
  }
  if (min === undefined || min < 0n) {
    // Negative values: "-" then a magnitude in [max(1, -max), -min]; magnitude 0 is covered above.
    const magLo = max === undefined || max >= 0n ? 1n : -max;
    const magHi = min === undefined ? undefined : -min;
    if (magHi === undefined || magLo <= magHi) options.push(seq(lit("-"), magnitudeRange(magLo, magHi, places)));
  }
  return options.length === 0 ? NEVER : alt(...options);
}
