import { type Command, Option } from "commander";
import { REQUEST_CSV_COLUMNS, SUMMARY_CSV_COLUMNS, toCsv, UsageService, utcDay } from "../domain/usage.js";
import { dataDirOption, integer, print } from "./common.js";
import { withLibrary } from "./library.js";

/** `maas-base usage`. */
export function registerUsage(program: Command): void {
  program
    .command("usage")
    .description("usage from the daily rollups, grouped; or the request log with --requests")
    .option("--from <day>", "first UTC day, YYYY-MM-DD (default: 29 days ago)")
    .option("--to <day>", "last UTC day, YYYY-MM-DD (default: today)")
    .addOption(new Option("--group-by <group>", "grouping").choices(["model", "key", "operation", "day"]).default("model"))
    .option("--requests", "list request rows (newest first) instead")
    .option("--limit <n>", "request rows to list", integer(1), 100)
    .option("--csv", "CSV output")
    .option("--json", "machine-readable output")
    .addOption(dataDirOption())
    .action((opts) =>
      withLibrary(opts, ({ db }) => {
        const usage = new UsageService(db);
        if (opts.requests) {
          const rows = usage.requests({ limit: opts.limit }).data;
          if (opts.csv) process.stdout.write(toCsv(rows, REQUEST_CSV_COLUMNS));
          else
            print(Boolean(opts.json), rows, () =>
              rows
                .map(
                  (r) =>
                    `${new Date(r.createdAt).toISOString()}\t${r.operation}\t${r.model ?? "-"}\t${r.status}\t${r.promptTokens}+${r.completionTokens} tokens\t${r.durationMs} ms`,
                )
                .join("\n"),
            );
          return;
        }
        const to = opts.to ?? utcDay(Date.now());
        const from = opts.from ?? utcDay(Date.now() - 29 * 86_400_000);
        const rows = usage.summary({ from, to, groupBy: opts.groupBy });
        if (opts.csv) process.stdout.write(toCsv(rows, SUMMARY_CSV_COLUMNS));
        else
          print(Boolean(opts.json), { from, to, groupBy: opts.groupBy, data: rows }, () =>
            [
              `${opts.groupBy}\trequests\terrors\tprompt\tcompletion`,
              ...rows.map((r) => `${r.group}\t${r.requests}\t${r.errors}\t${r.promptTokens}\t${r.completionTokens}`),
            ].join("\n"),
          );
      }),
    );
}
