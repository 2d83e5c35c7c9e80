// Where a read command reads from: --data DIR (a data directory on this machine) or a running
// server (--server URL with credentials, or a context of the client config). The same flags on
// query, history, top, export, keys and proof.
import type { Command } from "commander";
import { clientConfigPath, findContext, loadClientConfig } from "../../client/client-config.js";
import { connectRemote, type RemoteSettings } from "../../client/connect.js";
import type { ReadSource } from "../../client/source.js";
import { requireWitnesses, WitnessPolicyError } from "../../verify/witness-policy.js";
import { CliError } from "../errors.js";
import { USAGE_EXIT } from "./format.js";
import { addWitnessOptions, witnessPolicyFromOptions } from "./witness-options.js";

export interface SourceFlags {
  data?: string;
  server?: string;
  context?: string;
  tokenFile?: string;
  ca?: string;
  clientCert?: string;
  clientKey?: string;
  key?: string;
  witness?: string[];
  minWitnesses?: string;
}

const REMOTE_ONLY: [keyof SourceFlags, string][] = [
  ["tokenFile", "--token-file"],
  ["ca", "--ca"],
  ["clientCert", "--client-cert"],
  ["clientKey", "--client-key"],
];

/** What a read command checks of a server's answers (the help says it). */
const PROVEN =
  "Every entry read\nfrom a server is checked against its signed checkpoint with an inclusion proof.";

/**
 * The source flags; with `witnesses` (all but `keys`), also --witness and --min-witnesses.
 * `trust` replaces the help's sentence on what is checked of a server's answers.
 */
export function addSourceOptions(cmd: Command, opts: { witnesses?: boolean; trust?: string } = {}): Command {
  if (opts.witnesses !== false) addWitnessOptions(cmd);
  return cmd
    .option("--data <dir>", "read the data directory of a log on this machine")
    .option("--server <url>", "read from a running kubetrail server, e.g. https://kubetrail.example:8443")
    .option("--context <name>", "read from a context of the client config (default: its current context)")
    .option("--token-file <file>", "bearer token for the server (a read token or a Kubernetes token)")
    .option("--ca <file>", "CA bundle (PEM) that issued the server's certificate")
    .option("--client-cert <file>", "client certificate (PEM) to present to the server")
    .option("--client-key <file>", "key of --client-cert (PEM)")
    .option("--key <vkey>", "verifier key every answer must be signed by (default: the context's pinned key)")
    .addHelpText(
      "after",
      "\nSource: --data DIR, or --server URL (with --key and credentials), or a context from\n" +
        "`kubetrail config` (file: KUBETRAIL_CONFIG or ~/.config/kubetrail/config.yaml). " +
        (opts.trust ?? PROVEN),
    );
}

/** The remote settings the flags and the client config describe, or undefined for none. */
export function remoteSettings(o: SourceFlags): RemoteSettings | undefined {
  const file = clientConfigPath();
  const ctx =
    o.context !== undefined || o.server === undefined
      ? findContext(loadClientConfig(file), file, o.context)
      : undefined;
  const server = o.server ?? ctx?.server;
  if (server === undefined) return undefined;
  const pick = <T>(flag: T | undefined, fromContext: T | undefined): T | undefined => flag ?? fromContext;
  return {
    server,
    certificateAuthority: pick(o.ca, ctx?.certificateAuthority),
    tokenFile: pick(o.tokenFile, ctx?.tokenFile),
    clientCertificate: pick(o.clientCert, ctx?.clientCertificate),
    clientKey: pick(o.clientKey, ctx?.clientKey),
    verifierKey: pick(o.key, ctx?.verifierKey),
    origin: ctx === undefined ? "--server" : `context "${ctx.name}" of ${file}`,
  };
}

/** Checks that exactly one source is named; returns which. */
export function sourceKind(o: SourceFlags): "local" | "remote" {
  if (o.data !== undefined) {
    if (o.server !== undefined || o.context !== undefined)
      throw new CliError(
        "--data and --server/--context are mutually exclusive: read a data directory on this machine or a server, not both",
        USAGE_EXIT,
      );
    const stray = REMOTE_ONLY.filter(([k]) => o[k] !== undefined).map(([, flag]) => flag);
    if (stray.length > 0)
      throw new CliError(`${stray.join(", ")}: only with --server or --context, not --data`, USAGE_EXIT);
    return "local";
  }
  return "remote";
}

export function noSource(): CliError {
  return new CliError(
    "no source to read: give --data DIR (a data directory on this machine) or --server URL (a running server), " +
      "or add a context with `kubetrail config set-context NAME --server URL --key VKEY`",
    USAGE_EXIT,
  );
}

/** Opens the source the flags name. A local log's own key must match --key when both are given. */
export async function openSource(o: SourceFlags): Promise<ReadSource> {
  // Checkpoints short of the witness quorum are refused, naming the missing witnesses.
  const witnesses = await witnessPolicyFromOptions(o);
  if (sourceKind(o) === "local") {
    const dataDir = o.data as string;
    // Loaded only here: the index (SQLite) is not needed to read from a server.
    const [{ openCliSession }, { localSource }, { fsStorage }] = await Promise.all([
      import("./session.js"),
      import("../../client/local-source.js"),
      import("../../store/fs/storage.js"),
    ]);
    const session = await openCliSession(dataDir);
    const verifierKey = await fsStorage(dataDir).verifierKey();
    if (o.key !== undefined && o.key !== verifierKey) {
      session.close();
      throw new CliError(`${dataDir}: the log's verifier key is not the one given with --key`);
    }
    if (witnesses) {
      try {
        requireWitnesses(session.log.latestCheckpoint().note, witnesses);
      } catch (err) {
        session.close();
        if (err instanceof WitnessPolicyError)
          throw new CliError(`${dataDir}: ${err.message}`, 1, { cause: err });
        throw err;
      }
    }
    return localSource(session, dataDir, verifierKey);
  }
  const settings = remoteSettings(o);
  if (settings === undefined) throw noSource();
  return connectRemote(settings, undefined, witnesses);
}
