// `kubetrail restore`: a new primary from a copy of the log (a mirror's copy, or any tlog-tiles
// server), continuing the same log with its own signing key (docs/operations.md).
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { restoreLog } from "../mirror/restore.js";
import { TilesClient } from "../mirror/tiles-client.js";
import { HttpClient } from "../publish/http-client.js";
import { readTokenFile } from "../server/tokens.js";
import { WitnessError } from "../witness/errors.js";
import { CliError } from "./errors.js";
import { addWitnessOptions, witnessPolicyFromOptions } from "./output/witness-options.js";
import { progressBar } from "./progress.js";

interface RestoreFlags {
  data: string;
  from: string;
  key: string;
  signingKey: string;
  redactionKey?: string;
  tokenFile?: string;
  ca?: string;
  insecureSkipTlsVerify?: boolean;
  witness?: string[];
  minWitnesses?: string;
}

async function readSecret(file: string, flag: string): Promise<string> {
  try {
    return (await readFile(file, "utf8")).trim();
  } catch (err) {
    throw new CliError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 2);
  }
}

export function registerRestore(program: Command): void {
  const cmd = program
    .command("restore")
    .description(
      "make a new primary in --data from a copy of the log (a mirror's copy or a tlog-tiles URL), checked against the log's key, continuing the same log",
    )
    .requiredOption("--data <dir>", "the new data directory (must not hold a log)")
    .requiredOption(
      "--from <dir|url>",
      "the copy: a mirror's DATA/logs/<origin hash> directory, or its URL https://mirror:8445/<origin hash>/",
    )
    .requiredOption(
      "--key <vkey>",
      "the log's verifier key (pinned: the copy's checkpoint must be signed by it)",
    )
    .requiredOption("--signing-key <file>", "backup of the log's DATA/keys/signing.key")
    .option("--redaction-key <file>", "backup of DATA/keys/redaction.key (masked values keep their tags)")
    .option("--token-file <file>", "read token for a URL's entry bundles")
    .option("--ca <file>", "CA bundle (PEM) for an https URL")
    .option(
      "--insecure-skip-tls-verify",
      "do not check the URL's certificate (signatures and hashes still are)",
    );
  addWitnessOptions(cmd).action(async (o: RestoreFlags) => {
    const witnesses = await witnessPolicyFromOptions(o);
    const signerKey = await readSecret(o.signingKey, "--signing-key");
    const redactionKey = o.redactionKey ? await readSecret(o.redactionKey, "--redaction-key") : undefined;
    const isUrl = /^https?:\/\//.test(o.from);
    const http = isUrl
      ? new HttpClient({
          ...(o.ca ? { ca: await readSecret(o.ca, "--ca") } : {}),
          insecure: o.insecureSkipTlsVerify === true,
        })
      : undefined;
    const token = o.tokenFile ? (await readTokenFile(o.tokenFile))[0] : undefined;
    const progress = progressBar("restore", "entries");
    const compressing = progressBar("compress", "bundles");
    try {
      const r = await restoreLog({
        source: http
          ? { client: new TilesClient(http, o.from, { token, timeoutMs: 60_000 }) }
          : { dir: o.from },
        verifierKey: o.key.trim(),
        signerKey,
        ...(redactionKey ? { redactionKey } : {}),
        dataDir: o.data,
        witnesses,
        onProgress: (done, total) => progress.update(done, total),
        onCompressProgress: (done, total) => {
          progress.stop();
          compressing.update(done, total);
        },
      });
      progress.stop();
      compressing.stop();
      process.stdout.write(
        `restored ${r.size} entries of ${r.origin} into ${o.data}; the new log's checkpoint:\n${r.checkpoint}`,
      );
    } catch (err) {
      progress.stop();
      compressing.stop();
      if (err instanceof WitnessError) throw new CliError(err.message, err.code === "config" ? 2 : 1);
      throw err;
    } finally {
      http?.close();
    }
  });
}
