// `kubetrail config`: the client config's contexts (server, trust, credentials, pinned verifier
// key), added and switched like kubectl's. The file holds paths to credentials, never a credential.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import YAML from "yaml";
import {
  clientConfigPath,
  findContext,
  loadClientConfig,
  saveClientConfig,
  type ContextSettings,
} from "../client/client-config.js";
import { apiClient } from "../client/connect.js";
import { remoteSource } from "../client/remote-source.js";
import { NoteVerifier } from "../tlog/index.js";
import { CliError } from "./errors.js";
import { checkOutput, USAGE_EXIT } from "./output/format.js";
import { formatTable } from "./output/table.js";

interface SetFlags {
  server?: string;
  ca?: string;
  tokenFile?: string;
  clientCert?: string;
  clientKey?: string;
  key?: string;
  fetchKey?: boolean;
  use?: boolean;
}

function absolute(file: string | undefined): string | undefined {
  return file === undefined ? undefined : path.resolve(file);
}

function checkKey(key: string): string {
  const text = key.startsWith("@") ? readFileSync(key.slice(1), "utf8").trim() : key;
  try {
    NoteVerifier.fromKey(text);
  } catch (err) {
    throw new CliError(`--key: not a verifier key (${(err as Error).message})`, USAGE_EXIT);
  }
  return text;
}

export function registerConfig(program: Command): void {
  const file = clientConfigPath();
  const config = program
    .command("config")
    .description(`manage the client config's contexts (${file}; KUBETRAIL_CONFIG overrides)`);

  config
    .command("set-context")
    .argument("<name>", "context name")
    .description("add a context or change settings of an existing one")
    .option("--server <url>", "server URL, e.g. https://kubetrail.example:8443")
    .option("--ca <file>", "CA bundle (PEM) that issued the server's certificate")
    .option("--token-file <file>", "file holding the bearer token (read at each use, never copied)")
    .option("--client-cert <file>", "client certificate (PEM)")
    .option("--client-key <file>", "key of --client-cert (PEM)")
    .option("--key <vkey>", "pin the log's verifier key (name+hash+base64, or @FILE)")
    .option(
      "--fetch-key",
      "pin the key the server states (trust on first use: compare it with the operator's)",
    )
    .option("--use", "make it the current context")
    .action(async (name: string, o: SetFlags) => {
      const cfg = loadClientConfig(file);
      const existing = cfg.contexts.find((c) => c.name === name);
      const server = o.server ?? existing?.server;
      if (server === undefined) throw new CliError(`context "${name}" is new: give --server URL`, USAGE_EXIT);
      const ctx: ContextSettings = {
        ...existing,
        name,
        server,
        ...Object.fromEntries(
          Object.entries({
            certificateAuthority: absolute(o.ca),
            tokenFile: absolute(o.tokenFile),
            clientCertificate: absolute(o.clientCert),
            clientKey: absolute(o.clientKey),
            verifierKey: o.key === undefined ? undefined : checkKey(o.key),
          }).filter(([, v]) => v !== undefined),
        ),
      };
      if (o.fetchKey) {
        if (o.key !== undefined) throw new CliError("--key and --fetch-key: give one", USAGE_EXIT);
        const source = remoteSource({
          api: apiClient({ ...ctx, origin: `context "${name}"` }),
          verifierKey: "",
        });
        try {
          ctx.verifierKey = (await source.verifierKey()).verifierKey;
        } finally {
          await source.close();
        }
        checkKey(ctx.verifierKey);
        process.stderr.write(
          `pinned the key ${server} states: ${ctx.verifierKey}\n` +
            "compare it with the one the log's operator publishes (kubetrail keys --data DIR)\n",
        );
      }
      cfg.contexts = existing ? cfg.contexts.map((c) => (c.name === name ? ctx : c)) : [...cfg.contexts, ctx];
      if (o.use || cfg.currentContext === undefined) cfg.currentContext = name;
      saveClientConfig(file, cfg);
      process.stdout.write(`context "${name}" ${existing ? "modified" : "created"} in ${file}\n`);
    });

  config
    .command("use-context")
    .argument("<name>")
    .description("make a context the current one")
    .action((name: string) => {
      const cfg = loadClientConfig(file);
      findContext(cfg, file, name);
      cfg.currentContext = name;
      saveClientConfig(file, cfg);
      process.stdout.write(`switched to context "${name}"\n`);
    });

  config
    .command("current-context")
    .description("print the current context's name")
    .action(() => {
      const cfg = loadClientConfig(file);
      if (cfg.currentContext === undefined) throw new CliError(`${file}: no current context`);
      process.stdout.write(cfg.currentContext + "\n");
    });

  config
    .command("get-contexts")
    .description("list the contexts")
    .option("-o, --output <format>", "table, json or yaml", "table")
    .action((o: { output: string }) => {
      const format = checkOutput(o.output, ["table", "json", "yaml"]);
      const cfg = loadClientConfig(file);
      if (format !== "table") {
        const doc = { currentContext: cfg.currentContext ?? null, contexts: cfg.contexts };
        process.stdout.write(format === "json" ? JSON.stringify(doc, null, 2) + "\n" : YAML.stringify(doc));
        return;
      }
      process.stdout.write(
        formatTable(
          ["CURRENT", "NAME", "SERVER", "CREDENTIAL", "VERIFIER-KEY"],
          cfg.contexts.map((c) => [
            c.name === cfg.currentContext ? "*" : "",
            c.name,
            c.server,
            c.tokenFile ? "token-file" : c.clientCertificate ? "client-cert" : "-",
            c.verifierKey ? (c.verifierKey.split("+").slice(0, 2).join("+") as string) : "(none)",
          ]),
        ),
      );
    });

  config
    .command("delete-context")
    .argument("<name>")
    .description("remove a context")
    .action((name: string) => {
      const cfg = loadClientConfig(file);
      findContext(cfg, file, name);
      cfg.contexts = cfg.contexts.filter((c) => c.name !== name);
      if (cfg.currentContext === name) delete cfg.currentContext;
      saveClientConfig(file, cfg);
      process.stdout.write(`deleted context "${name}"\n`);
    });

  config
    .command("view")
    .description("print the client config")
    .action(() => {
      process.stdout.write(YAML.stringify(loadClientConfig(file)));
    });
}
