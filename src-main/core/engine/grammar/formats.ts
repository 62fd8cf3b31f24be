/**
 * String formats as grammars for a JSON string's content. Each one produces a
 * subset of what the format allows (the strict readings ajv-formats checks: real
 * calendar days, a time zone on times, no leap seconds), never anything outside it.
 */
import { alt, type CharRange, cls, type Expr, lit, opt, rep, seq } from "./gbnf.js";
import { integerRange } from "./numbers.js";

const range = (from: string, to: string): CharRange => [from.codePointAt(0) as number, to.codePointAt(0) as number];
const DIGIT = cls([range("0", "9")]);
const HEX = cls([range("0", "9"), range("a", "f"), range("A", "F")]);
const ALNUM = cls([range("0", "9"), range("A", "Z"), range("a", "z")]);
const ALNUM_DASH = cls([range("-", "-"), range("0", "9"), range("A", "Z"), range("a", "z")]);

const digits = (n: number) => rep(DIGIT, n, n);
/** Two digits from 00 to `max`. */
const twoDigits = (min: number, max: number) => {
  const options: Expr[] = [];
  for (let v = min; v <= max; v++) options.push(lit(String(v).padStart(2, "0")));
  return alt(...options);
};

// Days by month; February stops at 28 so no leap-year rule is needed.
const DAY = alt(
  seq(alt(lit("01"), lit("03"), lit("05"), lit("07"), lit("08"), lit("10"), lit("12")), lit("-"), twoDigits(1, 31)),
  seq(alt(lit("04"), lit("06"), lit("09"), lit("11")), lit("-"), twoDigits(1, 30)),
  seq(lit("02-"), twoDigits(1, 28)),
);
const DATE = seq(digits(4), lit("-"), DAY);
const TIME = seq(
  twoDigits(0, 23),
  lit(":"),
  twoDigits(0, 59),
  lit(":"),
  twoDigits(0, 59),
  opt(seq(lit("."), rep(DIGIT, 1, 6))),
  alt(lit("Z"), seq(cls([range("+", "+"), range("-", "-")]), twoDigits(0, 23), lit(":"), twoDigits(0, 59))),
);
const count = rep(DIGIT, 1, 4);
const DURATION_TIME = alt(
  seq(count, lit("H"), opt(seq(count, lit("M"))), opt(seq(count, lit("S")))),
  seq(count, lit("M"), opt(seq(count, lit("S")))),
  seq(count, lit("S")),
);
const DURATION = seq(
  lit("P"),
  alt(
    seq(
      alt(
        seq(count, lit("Y"), opt(seq(count, lit("M"))), opt(seq(count, lit("D")))),
        seq(count, lit("M"), opt(seq(count, lit("D")))),
        seq(count, lit("D")),
      ),
      opt(seq(lit("T"), DURATION_TIME)),
    ),
    seq(lit("T"), DURATION_TIME),
    seq(count, lit("W")),
  ),
);
/** A DNS label of 1–32 characters: letters, digits, inner hyphens. */
const LABEL = seq(ALNUM, opt(seq(rep(ALNUM_DASH, 0, 30), ALNUM)));
const HOSTNAME = seq(LABEL, rep(seq(lit("."), LABEL), 0, 4));
const LOCAL_PART_CHAR = cls([
  range("0", "9"),
  range("A", "Z"),
  range("a", "z"),
  range("_", "_"),
  range("+", "+"),
  range("-", "-"),
]);
const EMAIL = seq(
  rep(LOCAL_PART_CHAR, 1, 32),
  rep(seq(lit("."), rep(LOCAL_PART_CHAR, 1, 32)), 0, 2),
  lit("@"),
  LABEL,
  rep(seq(lit("."), LABEL), 1, 3),
);
const OCTET = integerRange(0n, 255n);
const IPV4 = seq(OCTET, lit("."), OCTET, lit("."), OCTET, lit("."), OCTET);
const H16 = rep(HEX, 1, 4);
const IPV6 = alt(
  seq(H16, rep(seq(lit(":"), H16), 7, 7)),
  // A shortened form: some groups, "::", some groups, seven groups at most in all.
  seq(rep(seq(H16, lit(":")), 1, 3), lit(":"), H16, rep(seq(lit(":"), H16), 0, 2)),
  seq(lit("::"), H16, rep(seq(lit(":"), H16), 0, 5)),
);
const UUID = seq(
  rep(HEX, 8, 8),
  lit("-"),
  rep(HEX, 4, 4),
  lit("-"),
  rep(HEX, 4, 4),
  lit("-"),
  rep(HEX, 4, 4),
  lit("-"),
  rep(HEX, 12, 12),
);
const PATH_CHAR = cls([range("0", "9"), range("A", "Z"), range("a", "z"), range("-", "."), range("_", "_"), range("~", "~")]);
const URI = seq(
  alt(lit("https"), lit("http"), seq(cls([range("a", "z")]), rep(cls([range("a", "z"), range("0", "9")]), 0, 8))),
  lit("://"),
  LABEL,
  rep(seq(lit("."), LABEL), 0, 2),
  opt(seq(lit(":"), integerRange(1n, 65535n))),
  rep(seq(lit("/"), rep(PATH_CHAR, 0, 16)), 0, 4),
  opt(seq(lit("?"), rep(alt(PATH_CHAR, lit("="), lit("&")), 0, 32))),
);

export const FORMATS: Readonly<Record<string, Expr>> = {
  date: DATE,
  time: TIME,
  "date-time": seq(DATE, lit("T"), TIME),
  duration: DURATION,
  email: EMAIL,
  "idn-email": EMAIL,
  hostname: HOSTNAME,
  "idn-hostname": HOSTNAME,
  ipv4: IPV4,
  ipv6: IPV6,
  uuid: UUID,
  uri: URI,
  "uri-reference": URI,
  iri: URI,
};

/** Length of a format's values, for checking against minLength/maxLength. */
export const FORMAT_LENGTHS: Readonly<Record<string, [number, number]>> = {
  date: [10, 10],
  time: [9, 21],
  "date-time": [20, 32],
  uuid: [36, 36],
  ipv4: [7, 15],
};
