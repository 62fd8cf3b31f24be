import pino, { type Logger } from "pino";

/** Structured JSON logs on stderr, so stdout stays for command output. */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { app: "maas-base" },
      redact: { paths: ["req.headers.authorization", "req.headers['x-api-key']", "req.headers['api-key']"], remove: true },
    },
    pino.destination(2),
  );
}
