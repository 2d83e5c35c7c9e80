#!/usr/bin/env node
// `kubectl trail`: the read commands as a kubectl plugin. It finds kubetrail from the current
// kube context (the kubetrail-client ConfigMap or the Service's annotations), presents the
// kubectl user's own credential (token, client certificate or exec plugin), and follows
// kubectl's conventions: -n/-A with the context's namespace as default, --context,
// --kubeconfig, -o table|wide|json|yaml, --since 2h, short names (deploy, cm, sa, crb…).
import { Command, Option } from "commander";
import type { RawFilter } from "../index/query.js";
import { parseKindName, isClusterScoped } from "../index/kinds.js";
import { parseTopDimension } from "../index/top-dimension.js";
import { CliError } from "./errors.js";
import { runProgram } from "./run-program.js";
import { addFilterOptions, filterFromOptions, parseTotal, usageError } from "./output/filter-options.js";
import { checkOutput, parseOutputFormat, USAGE_EXIT } from "./output/format.js";
import { pinnedKey } from "../client/connect.js";
import { addWitnessOptions } from "./output/witness-options.js";
import { withKubetrail, type KubectlFlags } from "./kubectl/connect.js";

const program = new Command("kubectl trail")
  .description(
    "kubetrail's tamper-evident audit trail from kubectl: who did what, an object's history, proofs.\n" +
      "kubetrail is found from the kube context (ConfigMap kubetrail/kubetrail-client); you are who kubectl says you are.",
  )
  .version("0.1.0")
  .showHelpAfterError()
  .exitOverride();

/** kubectl's connection flags and kubetrail's overrides, on every subcommand; with `witnesses`
 * (all but `keys`), also the witness policy every checkpoint trusted must meet. */
function connection(cmd: Command, opts: { witnesses?: boolean } = {}): Command {
  if (opts.witnesses !== false) addWitnessOptions(cmd);
  return cmd
    .option("--kubeconfig <file>", "kubeconfig to use (default: KUBECONFIG or ~/.kube/config)")
    .option("--context <name>", "kube context to use (default: the current context)")
    .addOption(
      new Option("--kubetrail-namespace <ns>", "namespace kubetrail runs in")
        .env("KUBETRAIL_NAMESPACE")
        .default("kubetrail"),
    )
    .option("--server <url>", "kubetrail's URL, instead of finding it in the cluster")
    .option("--ca <file>", "CA bundle (PEM) of kubetrail's serving certificate, instead of the published one")
    .option("--key <vkey>", "verifier key answers must be signed by, instead of the published one");
}

/** -n (repeatable for filters, single for objects) and -A, resolved as kubectl does. */
function namespaces(
  o: { namespace?: string | string[]; allNamespaces?: boolean },
  contextNamespace: string,
): string[] | undefined {
  const given = o.namespace === undefined ? [] : Array.isArray(o.namespace) ? o.namespace : [o.namespace];
  if (o.allNamespaces) {
    if (given.length > 0) throw new CliError("-n/--namespace and -A/--all-namespaces: give one", USAGE_EXIT);
    return undefined;
  }
  return given.length > 0 ? given : [contextNamespace];
}

/** The namespace of one object: -n, "" for none (K9s on a cluster-scoped view), -A for all, else the context's. */
function objectNamespace(
  object: string,
  o: KubectlFlags & { namespace?: string; allNamespaces?: boolean },
  contextNamespace: string,
): string | undefined {
  let target;
  try {
    target = parseKindName(object);
  } catch (err) {
    usageError(err);
  }
  if (isClusterScoped(target.resource)) return undefined;
  if (o.allNamespaces) {
    if (o.namespace !== undefined)
      throw new CliError("-n/--namespace and -A/--all-namespaces: give one", USAGE_EXIT);
    return undefined;
  }
  if (o.namespace === "") return undefined;
  return o.namespace ?? contextNamespace;
}

const outputOption = (formats: string) => new Option("-o, --output <format>", formats).default("table");

type FilterFlags = KubectlFlags &
  Record<string, unknown> & { output: string; limit?: string; allNamespaces?: boolean; namespace?: string[] };

async function listCommand(o: FilterFlags, extra: RawFilter = {}): Promise<void> {
  const format = parseOutputFormat(o.output);
  const total = parseTotal(o.limit, 100);
  await withKubetrail(o, async ({ source, kube }) => {
    const ns = namespaces(o, kube.namespace);
    const filter = filterFromOptions(
      { ...o, namespace: undefined },
      { ...extra, ...(ns === undefined ? {} : { namespace: ns }) },
    );
    const { streamEvents } = await import("./output/event-stream.js");
    await streamEvents(format, source.list(filter, { total }), process.stdout);
  });
}

connection(
  addFilterOptions(
    program
      .command("query")
      .description("audit events matching filters (default: the context's namespace; -A for all)"),
  ),
)
  .option("-A, --all-namespaces", "every namespace, and cluster-scoped events")
  .addOption(outputOption("table, wide, json, jsonl or yaml"))
  .action((o: FilterFlags) => listCommand(o));

connection(
  addFilterOptions(
    program
      .command("who")
      .argument("<subject>", "a user name, sa/NAME (with -n) or system:serviceaccount:NS:NAME")
      .description(
        "what a user or service account did (default: in every namespace you may read; -n to narrow)",
      ),
  ),
)
  .addOption(outputOption("table, wide, json, jsonl or yaml"))
  .action(async (subject: string, o: FilterFlags) => {
    const sa = /^(?:sa|serviceaccounts?)\/(.+)$/.exec(subject);
    let user = subject;
    if (sa !== null) {
      const ns = o.namespace?.[0];
      if (ns === undefined || o.namespace?.length !== 1)
        throw new CliError(`${subject}: give the service account's namespace with -n`, USAGE_EXIT);
      user = `system:serviceaccount:${ns}:${sa[1]}`;
      o.namespace = undefined;
    }
    await listCommand(
      { ...o, allNamespaces: o.namespace === undefined || o.namespace.length === 0 },
      { user: [user] },
    );
  });

connection(
  program
    .command("history")
    .argument("<object>", "KIND/NAME: deploy/web, cm/app-config, crb/admins, deployments.apps/web")
    .description("every change to one object, oldest first, with who, how and the request diff")
    .option(
      "-n, --namespace <ns>",
      "the object's namespace (default: the context's; ignored for cluster-scoped kinds)",
    )
    .option("-A, --all-namespaces", "the object of that name in every namespace, each shown apart")
    .option("--since <duration>", "only the last 15m, 24h, 7d, …")
    .option("--limit <n>", "at most this many changes (default 1000; 0 or all: every one)")
    .addOption(outputOption("table, wide, json, jsonl or yaml")),
).action(
  async (
    object: string,
    o: KubectlFlags & {
      namespace?: string;
      allNamespaces?: boolean;
      since?: string;
      limit?: string;
      output: string;
    },
  ) => {
    const format = parseOutputFormat(o.output);
    const total = parseTotal(o.limit, 1000);
    await withKubetrail(o, async ({ source, kube }) => {
      const ns = objectNamespace(object, o, kube.namespace);
      const { historyText } = await import("./history.js");
      process.stdout.write(
        await historyText(source, object, {
          ...(ns === undefined ? {} : { namespace: ns }),
          ...(o.since ? { since: o.since } : {}),
          total,
          format,
        }),
      );
    });
  },
);

connection(
  addFilterOptions(
    program
      .command("top")
      .argument("<dimension>", "user, verb, resource, ns, source, group or code")
      .description("count requests by one dimension (default: the context's namespace; -A for all)"),
    { limit: false, order: false },
  ),
)
  .option("-A, --all-namespaces", "every namespace, and cluster-scoped events")
  .option("--top <n>", "show this many (default 10; 0 or all: every one, at most 10,000)", "10")
  .addOption(outputOption("table, json, jsonl or yaml"))
  .action(async (text: string, o: FilterFlags & { top: string }) => {
    let dimension;
    try {
      dimension = parseTopDimension(text);
    } catch (err) {
      usageError(err);
    }
    const format = parseOutputFormat(o.output);
    const n = parseTotal(o.top, 10, "--top");
    await withKubetrail(o, async ({ source, kube }) => {
      const ns = namespaces(o, kube.namespace);
      const filter = filterFromOptions(
        { ...o, namespace: undefined },
        ns === undefined ? {} : { namespace: ns },
      );
      const { topText } = await import("./top.js");
      process.stdout.write(await topText(source, dimension, filter, n, format));
    });
  });

connection(
  program
    .command("proof")
    .argument("[entry]", "a log index, or KIND/NAME for the object's latest change")
    .description("prove one entry is in the log, checked here against the signed checkpoint")
    .option("-n, --namespace <ns>", "the object's namespace (default: the context's)")
    .option("--audit-id <id>", "the entry of this request")
    .addOption(outputOption("text, json or yaml").default("text")),
).action(
  async (
    what: string | undefined,
    o: KubectlFlags & { namespace?: string; auditId?: string; output: string },
  ) => {
    const format = checkOutput(o.output, ["text", "json", "yaml"]);
    if ((what === undefined) === (o.auditId === undefined))
      throw new CliError("give one of: a log index, KIND/NAME, or --audit-id ID", USAGE_EXIT);
    await withKubetrail(o, async ({ source, kube }) => {
      const ns =
        what !== undefined && !/^\d+$/.test(what) ? objectNamespace(what, o, kube.namespace) : undefined;
      const { entryIndex, proofText } = await import("./proof.js");
      const index = await entryIndex(source, what, {
        ...(ns === undefined ? {} : { namespace: ns }),
        ...(o.auditId ? { auditId: o.auditId } : {}),
      });
      const { entry, checkpoint } = await source.entry(index);
      process.stdout.write(await proofText(entry, checkpoint, format));
    });
  },
);

connection(
  addFilterOptions(
    program
      .command("export")
      .description(
        "write an evidence bundle of matching events (default: the context's namespace; -A for all)",
      ),
    { order: false },
  ),
)
  .option("-A, --all-namespaces", "every namespace, and cluster-scoped events")
  .requiredOption("-f, --filename <file>", "bundle file to write (- for stdout)")
  .action(async (o: FilterFlags & { filename: string }) => {
    const total = parseTotal(o.limit, 100);
    await withKubetrail(o, async ({ source, kube }) => {
      const ns = namespaces(o, kube.namespace);
      const filter = filterFromOptions(
        { ...o, namespace: undefined },
        { asc: ["true"], ...(ns === undefined ? {} : { namespace: ns }) },
      );
      const { exportBundle } = await import("./export.js");
      await exportBundle(source, filter, o.limit, total, o.filename);
    });
  });

connection(
  program
    .command("verify")
    .description(
      "check every entry, tile and the signed checkpoint of the whole log (needs full-log rights), " +
        "and that it extends the newest checkpoint this client verified before",
    )
    .option("--from <checkpoint-file>", "prove the log extends this older trusted checkpoint instead")
    .addOption(outputOption("text or json").default("text")),
).action(async (o: KubectlFlags & { from?: string; output: string }) => {
  checkOutput(o.output, ["text", "json"]);
  await withKubetrail(o, async ({ settings, witnesses }) => {
    const [{ httpLogSource }, { verifyLog }, { verifyReportText }, { readFile }, { fileSeenCheckpoints }] =
      await Promise.all([
        import("../verify/http-source.js"),
        import("../verify/verify-log.js"),
        import("./verify.js"),
        import("node:fs/promises"),
        import("../client/seen-checkpoints.js"),
      ]);
    const key = pinnedKey(settings);
    const source = await httpLogSource(`${settings.server.replace(/\/$/, "")}/log/`, {
      ...(settings.certificateAuthority === undefined ? {} : { ca: settings.certificateAuthority }),
      ...(settings.token === undefined ? {} : { token: settings.token }),
      pem: {
        ...(settings.caData === undefined ? {} : { ca: settings.caData }),
        ...(settings.certData === undefined ? {} : { cert: settings.certData, key: settings.keyData }),
      },
    });
    // Without --from, the newest checkpoint this client verified before is the trusted one.
    const trusted = o.from !== undefined ? await readFile(o.from, "utf8") : fileSeenCheckpoints().load(key);
    const report = await verifyLog(source, {
      verifierKey: key,
      witnesses,
      ...(trusted === undefined ? {} : { trustedCheckpoint: trusted }),
    });
    process.stdout.write(
      o.output === "json"
        ? JSON.stringify({ ...report, keyPinned: true }) + "\n"
        : verifyReportText(report, true),
    );
    if (!report.ok) process.exitCode = 1;
  });
});

connection(
  program.command("keys").description("the verifier key kubetrail states, checked against the pinned one"),
  { witnesses: false },
)
  .addOption(outputOption("text or json").default("text"))
  .action(async (o: KubectlFlags & { output: string }) => {
    checkOutput(o.output, ["text", "json"]);
    await withKubetrail(
      o,
      async ({ source, settings }) => {
        const keys = await source.verifierKey();
        if (settings.verifierKey !== undefined && settings.verifierKey !== keys.verifierKey)
          throw new CliError(
            `${settings.server} states the verifier key ${keys.verifierKey}, not the pinned ${settings.verifierKey}`,
          );
        process.stdout.write(o.output === "json" ? JSON.stringify(keys) + "\n" : keys.verifierKey + "\n");
      },
      { keyRequired: false },
    );
  });

await runProgram(program, "kubectl trail");
