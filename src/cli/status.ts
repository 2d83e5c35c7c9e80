// `kubetrail status`: log size and checkpoint, how far the index, detector and dedupe store have
// got, retention, and disk use by part — of a data directory (read-only: no lock, beside a running
// serve or on a stopped log) or of a running server (GET /v1/status, read credential).
import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { remoteStatus } from "../client/remote-status.js";
import { collectStatus, type StatusReport } from "../status/collect.js";
import { CliError } from "./errors.js";
import { checkOutput } from "./output/format.js";
import {
  addSourceOptions,
  noSource,
  remoteSettings,
  sourceKind,
  type SourceFlags,
} from "./output/source-options.js";
import { statusTable } from "./status-table.js";

export function registerStatus(program: Command): void {
  const cmd = program
    .command("status")
    .description(
      "log size, latest checkpoint, index/detector/dedupe lag, retention and disk use by part " +
        "(read-only: safe beside a running serve)",
    )
    .option("-o, --output <format>", "table or json", "table");
  addSourceOptions(cmd, {
    witnesses: false,
    trust:
      "From a server\nthe report is the server's word: only its checkpoint (size and root hash) is checked, against\n--key or the context's pinned key when there is one.",
  }).action(async (o: SourceFlags & { output: string }) => {
    const format = checkOutput(o.output, ["table", "json"] as const);
    let report: StatusReport;
    if (sourceKind(o) === "local") {
      const dir = o.data as string;
      if (!existsSync(dir)) throw new CliError(`${dir}: no such directory`);
      // Any directory would give a report of zeros: say so instead.
      if (!existsSync(path.join(dir, "keys")) && !existsSync(path.join(dir, "checkpoint")))
        throw new CliError(`${dir}: not a kubetrail data directory (no keys/, no checkpoint)`);
      report = await collectStatus(dir);
    } else {
      const settings = remoteSettings(o);
      if (settings === undefined) throw noSource();
      report = await remoteStatus(settings);
    }
    process.stdout.write(format === "json" ? JSON.stringify(report, null, 2) + "\n" : statusTable(report));
  });
}
