// `kubetrail verify` against a served log, for the query tests.
import { runCli, type CliResult } from "./fixtures/cli.js";

/** `kubetrail verify` against a server's static log on 127.0.0.1:port, trusting `caFile`. */
export function verifyRemote(port: number, key: string, caFile: string): Promise<CliResult> {
  return runCli(["verify", `https://127.0.0.1:${port}/log/`, "--key", key, "--ca", caFile]);
}
