// `kubetrail verify`: the auditor's check. Exit 0 only if every entry, tile and the signed
// checkpoint agree (and, with --from, the log extends the older trusted checkpoint).
import { setMaxListeners } from "node:events";
import { existsSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { readTokenFile } from "../server/tokens.js";
import type { LogSource } from "../store/driver.js";
import { readRegularFile } from "../store/fs/bounded-read.js";
import { fsStorage } from "../store/fs/storage.js";
import { MAX_CHECKPOINT_BYTES } from "../store/types.js";
import { parseDuration } from "../server/config.js";
import { httpLogSource } from "../verify/http-source.js";
import { verifyLog, type VerifyReport } from "../verify/verify-log.js";
import { CliError } from "./errors.js";
import { checkOutput } from "./output/format.js";
import { progressBar } from "./progress.js";
import { addWitnessOptions, witnessPolicyFromOptions } from "./output/witness-options.js";
import { collect } from "./list-options.js";

interface VerifyFlags {
  data?: string;
  key?: string[];
  from?: string;
  output: string;
  ca?: string;
  tokenFile?: string;
  clientCert?: string;
  clientKey?: string;
  insecureSkipTlsVerify?: boolean;
  workers?: string;
  witness?: string[];
  minWitnesses?: string;
  timeout: string;
}

export function registerVerify(program: Command): void {
  const cmd = program
    .command("verify [url]")
    .description("re-hash every entry and check the tree, the tiles and the signed checkpoint")
    .option("--data <dir>", "verify the log in this data directory")
    .option(
      "--key <vkey>",
      "pin the log's verifier key (name+hash+base64); required for a URL; repeatable (key rotations in the log are followed from any of them)",
      collect,
    )
    .option("--from <checkpoint-file>", "also prove the log extends this older trusted checkpoint")
    .option("-o, --output <format>", "text or json", "text")
    .option("--ca <file>", "PEM CA bundle for an https URL with a private certificate")
    .option("--token-file <file>", "read token for a URL (entry bundles need a full-log read credential)")
    .option("--client-cert <file>", "PEM client certificate for a URL (a server's --read-client-ca)")
    .option("--client-key <file>", "private key of --client-cert (PEM)")
    .option(
      "--insecure-skip-tls-verify",
      "do not check the server certificate (the checkpoint signature still is)",
    )
    .option(
      "--timeout <duration>",
      "give up (exit 1, saying how far it got) after this long; every request to a URL also has 60s",
      "6h",
    )
    .option(
      "--workers <n>",
      "hashing threads (default: one per core but one, which reads and checks the tree)",
    )
    .addHelpText(
      "after",
      '\nExamples:\n  kubetrail verify --data ./kubetrail-data --key "$(cat verifier.key)"\n  kubetrail verify https://kubetrail:8443/log/ --key "$VKEY" --token-file read-token --ca ca.crt --from old-checkpoint\n  kubetrail verify https://kubetrail:8443/log/ --key "$VKEY" --token-file read-token --witness "$W1" --witness "$W2" --min-witnesses 1',
    );
  addWitnessOptions(cmd).action(async (url: string | undefined, o: VerifyFlags) => {
    checkOutput(o.output, ["text", "json"]);
    let timeoutMs: number;
    try {
      timeoutMs = parseDuration(o.timeout, "--timeout");
    } catch (err) {
      throw new CliError((err as Error).message, 2, { cause: err });
    }
    const deadline = new AbortController();
    setTimeout(() => deadline.abort(`--timeout ${o.timeout} passed`), timeoutMs).unref();
    const signal = deadline.signal;
    // Each request in flight listens for the deadline (verify-log bounds how many): more than
    // ten is no leak, and Node's warning would tell the user it is.
    setMaxListeners(0, signal);
    const { source, key, pinned } = await resolveSource(url, o, signal);
    const trustedCheckpoint = o.from ? await readFile(o.from, "utf8") : undefined;
    const witnesses = await witnessPolicyFromOptions(o);
    const progress = progressBar("verify", "entries", o.output !== "json");
    const report = await verifyLog(source, {
      verifierKey: key,
      trustedCheckpoint,
      witnesses,
      workers: o.workers ? Number(o.workers) : undefined,
      signal,
      onProgress: (done, total) => progress.update(done, total),
    }).finally(() => progress.stop());
    if (o.output === "json") process.stdout.write(JSON.stringify({ ...report, keyPinned: pinned }) + "\n");
    else process.stdout.write(verifyReportText(report, pinned));
    if (!report.ok) process.exitCode = 1;
  });
}

async function resolveSource(
  url: string | undefined,
  o: VerifyFlags,
  signal: AbortSignal,
): Promise<{ source: LogSource; key: string[]; pinned: boolean }> {
  if ((url === undefined) === (o.data === undefined))
    throw new CliError("give either --data DIR or a URL", 2);
  if (url !== undefined) {
    if ((o.clientCert === undefined) !== (o.clientKey === undefined))
      throw new CliError("--client-cert and --client-key go together", 2);
    if (!o.key) throw new CliError("verifying a URL needs --key: the log's own key proves nothing", 2);
    return {
      source: await httpLogSource(url, {
        ca: o.ca,
        insecure: o.insecureSkipTlsVerify,
        token: o.tokenFile ? await readToken(o.tokenFile) : undefined,
        clientCert: o.clientCert,
        clientKey: o.clientKey,
        signal,
      }),
      key: o.key,
      pinned: true,
    };
  }
  const hint = await mirrorCopies(o.data!);
  if (hint !== undefined) throw new CliError(hint, 2);
  const storage = fsStorage(o.data!);
  const key = o.key ?? [await storage.verifierKey()];
  return { source: storage.source(), key, pinned: o.key !== undefined };
}

/**
 * A mirror keeps each log it copies under DATA/logs/<sha256 of the origin>/, so `--data` of the
 * mirror's own directory is an easy slip: the answer names the directories to give instead.
 * Undefined for anything else (a log's directory, or none at all: verify says what is missing).
 */
async function mirrorCopies(dir: string): Promise<string | undefined> {
  if (existsSync(path.join(dir, "checkpoint"))) return undefined;
  let names: string[];
  try {
    names = readdirSync(path.join(dir, "logs"));
  } catch {
    return undefined;
  }
  const copies: string[] = [];
  for (const name of names.sort()) {
    const copy = path.join(dir, "logs", name);
    const note = await readRegularFile(
      path.join(copy, "checkpoint"),
      MAX_CHECKPOINT_BYTES,
      "checkpoint",
    ).catch(() => null);
    if (note !== null) copies.push(`  --data ${copy}   (${note.toString("utf8").split("\n")[0]})`);
  }
  if (copies.length === 0) return undefined;
  return `${dir} is a mirror's data directory; verify the copy of a log it holds:\n${copies.join("\n")}`;
}

/** The first token of a token file (the format serve's --read-token-file reads). */
async function readToken(file: string): Promise<string> {
  try {
    const [token] = await readTokenFile(file);
    return token!;
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
}

/** The report for a person: OK with what was checked, or FAILED with every problem. */
export function verifyReportText(r: VerifyReport, pinned: boolean): string {
  const lines: string[] = [];
  if (r.ok) {
    lines.push(
      `OK: ${r.where}: ${r.entries} entries, ${r.tilesChecked} tiles and the checkpoint of size ${r.size} verify`,
    );
    lines.push(`origin ${r.origin}, root ${r.rootHash}`);
    if (r.witnesses !== undefined) lines.push(`cosigned by witnesses: ${r.witnesses.join(", ")}`);
    if (r.pruned + r.erased + r.thinned > 0)
      lines.push(
        `${r.pruned} pruned, ${r.thinned} thinned and ${r.erased} erased entries were checked by their published leaf hashes alone`,
      );
    for (const e of r.erasedBy)
      lines.push(`${e.count} entries erased by record #${e.record} (by ${e.by}, ${e.time}: ${e.reason})`);
    for (const t of r.thinnedBy)
      lines.push(
        `${t.count} entries thinned by retention record #${t.record} (policy ${t.policy}, by ${t.by}, ${t.time})`,
      );
    for (const p of r.prunedRanges)
      lines.push(
        `entries ${p.from}–${p.before - 1} pruned by retention record #${p.record} (policy ${p.policy}, by ${p.by}, ${p.time})`,
      );
    if (r.trustedSize !== undefined)
      lines.push(`the log extends the trusted checkpoint of size ${r.trustedSize}`);
    if (!pinned)
      lines.push("warning: key not pinned (--key): trusted the verifier key stored beside the log");
  } else {
    lines.push(`FAILED: ${r.where}`);
    for (const p of r.problems) {
      const where =
        p.index === undefined ? "" : ` [entry ${p.index}${p.auditID ? `, auditID ${p.auditID}` : ""}]`;
      lines.push(`  ${p.code}: ${p.message}${where}`);
    }
  }
  return lines.join("\n") + "\n";
}
