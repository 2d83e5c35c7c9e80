// `kubetrail mirror`: run a C2SP tlog-mirror (logs push to it), or follow a tlog-tiles log
// (--from URL); `kubetrail mirror key`: print its verifier key.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { runMirror } from "../mirror/run-mirror.js";
import { progressBar, type Progress } from "./progress.js";
import { ConfigError, parseDuration } from "../server/config.js";
import { NoteVerifier } from "../tlog/index.js";
import { readTokenFile } from "../server/tokens.js";
import type { LogConfig } from "../witness/logs-config.js";
import {
  addCosignerOptions,
  addKeySubcommand,
  cosignerConfig,
  cosignerLogger,
  runUntilSignal,
  type CosignerFlags,
} from "./cosigner-options.js";
import { CliError } from "./errors.js";
import { collect } from "./list-options.js";

interface MirrorFlags extends CosignerFlags {
  from?: string;
  key?: string[];
  bundles: string;
  tokenFile?: string;
  readTokenFile?: string;
  ca?: string;
  insecureSkipTlsVerify?: boolean;
  interval: string;
  once?: boolean;
}

function fromLog(o: MirrorFlags): LogConfig[] {
  if (!o.from) return [];
  if (!o.key) throw new CliError("--from URL needs --key VKEY: the log's verifier key", 2);
  const verifiers = o.key.map((k) => {
    try {
      return NoteVerifier.fromKey(k.trim());
    } catch (err) {
      throw new CliError(`--key ${k}: ${(err as Error).message}`, 2);
    }
  });
  const origin = verifiers[0]!.name;
  if (verifiers.some((v) => v.name !== origin))
    throw new CliError(
      `--key: the keys name different logs (${[...new Set(verifiers.map((v) => v.name))].join(", ")}); give the keys of the one log of --from`,
      2,
    );
  if (o.bundles !== "ndjson" && o.bundles !== "c2sp") throw new CliError("--bundles: ndjson or c2sp", 2);
  return [{ origin, verifiers, url: o.from, bundles: o.bundles }];
}

function readText(file: string | undefined, flag: string): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new CliError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 2);
  }
}

export function registerMirror(program: Command): void {
  const cmd = program
    .command("mirror")
    .description(
      "run a C2SP tlog-mirror: keep copies of logs (pushed with add-entries, or pulled with --from), serve them in tlog-tiles layout and cosign what is durably held",
    );
  addCosignerOptions(cmd, "mirror", 8445)
    .option("--from <url>", "follow this tlog-tiles log (its prefix, where checkpoint and tile/ are)")
    .option(
      "--key <vkey>",
      "the verifier key of the log of --from; repeatable: during and after a key rotation give the old and the new key (the copy's checkpoint is signed by the old one)",
      collect,
    )
    .option("--bundles <format>", "entry bundles of --from: ndjson (kubetrail) or c2sp", "ndjson")
    .option("--token-file <file>", "read token for the entry bundles of pulled logs")
    .option("--ca <file>", "CA bundle (PEM) trusted for pulled logs")
    .option(
      "--insecure-skip-tls-verify",
      "do not check pulled logs' certificates (signatures and proofs still are)",
    )
    .option("--interval <duration>", "how often pulled logs are read", "10s")
    .option("--once", "pull every pulled log once, then exit (no server)")
    .option(
      "--read-token-file <file>",
      "tokens that may read mirrored entry bundles; default: DIR/read-token",
    )
    .addHelpText(
      "after",
      '\nExamples:\n  kubetrail mirror --data ./mirror --logs logs.yaml                       # logs push to it (serve --cosigners)\n  kubetrail mirror --data ./copy --from https://kubetrail:8443/log/ --key "$VKEY" --token-file read-token\n',
    )
    .action(async (o: MirrorFlags) => {
      const extraLogs = fromLog(o);
      if (!o.logs && extraLogs.length === 0)
        throw new CliError("give --logs FILE or --from URL --key VKEY", 2);
      let interval: number;
      try {
        interval = parseDuration(o.interval, "--interval");
      } catch (err) {
        throw new CliError((err as ConfigError).message, 2);
      }
      const token = o.tokenFile
        ? (
            await readTokenFile(o.tokenFile).catch((err: Error) => {
              throw new CliError(err.message, 2);
            })
          )[0]
        : undefined;
      const cfg = {
        ...cosignerConfig(o),
        extraLogs,
        ...(o.readTokenFile ? { readTokenFile: o.readTokenFile } : {}),
        pullIntervalMs: interval,
        ...(token ? { pullToken: token } : {}),
        ...(o.ca ? { pullCa: readText(o.ca, "--ca") } : {}),
        pullInsecure: o.insecureSkipTlsVerify === true,
        once: o.once === true,
      };
      const logger = cosignerLogger("mirror", o.logLevel);
      if (cfg.once) {
        // A bar per log, on a terminal: catching up a large log takes minutes.
        let bar: { origin: string; progress: Progress } | undefined;
        const onProgress = (origin: string, done: number, total: number): void => {
          if (bar?.origin !== origin) {
            bar?.progress.stop();
            bar = { origin, progress: progressBar(`mirror ${origin}`, "entries") };
          }
          bar.progress.update(done, total);
        };
        const r = await runMirror({ ...cfg, onProgress }, logger).finally(() => bar?.progress.stop());
        for (const p of r.pulled)
          process.stdout.write(`${p.origin}: ${p.size} entries mirrored (${p.fetched} new)\n`);
        return;
      }
      await runUntilSignal(() => runMirror(cfg, logger), logger);
    });
  addKeySubcommand(cmd, "mirror");
}
