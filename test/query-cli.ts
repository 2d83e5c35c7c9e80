// `kubetrail verify` against a served log, for the query tests.
import { runCli, type CliResult } from "./fixtures/cli.js";

/**
 * `kubetrail verify` against a server's static log on 127.0.0.1:port, trusting `caFile`, with
 * the read token in `tokenFile` (entry bundles need one).
 */
export function verifyRemote(
  port: number,
  key: string,
  caFile: string,
  tokenFile?: string,
): Promise<CliResult> {
  const token = tokenFile === undefined ? [] : ["--token-file", tokenFile];
  return runCli(["verify", `https://127.0.0.1:${port}/log/`, "--key", key, "--ca", caFile, ...token]);
}
