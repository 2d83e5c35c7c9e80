// `kubetrail rules test` and `kubetrail rules list`: run and inspect the detection rules
// offline. Windows use event time, so old files give the same alerts as live detection did.
import type { Command } from "commander";
import { RuleEngine } from "../detect/engine.js";
import { readEventFile } from "../detect/events-file.js";
import { loadRules } from "../detect/load-rules.js";
import { readRulesConfig } from "../detect/rules-config.js";
import { DetectError, SEVERITIES, type Alert, type Rule } from "../detect/types.js";
import { CliError } from "./errors.js";
import { formatMachine, parseOutputFormat, USAGE_EXIT } from "./output/format.js";
import { formatTable } from "./output/table.js";
import { collect } from "./list-options.js";

interface RuleFlags {
  rules: string[];
  rulesConfig?: string;
  builtins: boolean;
  output: string;
}

interface TestFlags extends RuleFlags {
  events: string[];
}

function ruleOptions(cmd: Command): Command {
  return cmd
    .option("--rules <dir>", "directory of Sigma rules (repeatable)", collect, [])
    .option("--rules-config <file>", "YAML with per-rule allow-lists, thresholds and switches")
    .option("--no-builtins", "leave out the built-in rules");
}

export function registerRules(program: Command): void {
  const rules = program.command("rules").description("test and list detection rules");

  ruleOptions(rules.command("test"))
    .description("run the rules over audit events from files and report the alerts")
    .requiredOption("--events <file...>", "audit log files (JSON lines) or EventList JSON files")
    .option("-o, --output <format>", "table (summary by rule), json or jsonl (one line per alert)", "table")
    .addHelpText(
      "after",
      "\nExamples:\n  kubetrail rules test --rules ./rules --events /var/log/kube-audit.log -o jsonl\n  kubetrail rules test --events capture.json --rules-config rules-config.yaml",
    )
    .action(async (o: TestFlags) => {
      const format = parseOutputFormat(o.output);
      const engine = new RuleEngine(await load(o));
      const alerts: Alert[] = [];
      let ordinal = 0;
      try {
        for (const file of o.events) {
          for await (const { value } of readEventFile(file)) {
            const raised = engine.evaluateObject(ordinal++, value);
            if (format === "jsonl")
              for (const a of raised) process.stdout.write(JSON.stringify(alertLine(a)) + "\n");
            else alerts.push(...raised);
          }
        }
      } catch (err) {
        throw err instanceof DetectError ? new CliError(err.message, 1, { cause: err }) : err;
      }
      if (format === "jsonl") return;
      const summary = summarise(engine, alerts);
      if (format === "table" || format === "wide") {
        process.stdout.write(
          formatTable(
            ["RULE", "SEVERITY", "ALERTS", "TITLE"],
            summary.items.map((s) => [s.rule, s.severity, String(s.alerts), s.title]),
          ),
        );
        process.stdout.write(
          `${summary.events} events, ${summary.alerts} alerts` +
            (summary.skipped > 0 ? `, ${summary.skipped} entries skipped (not audit events)` : "") +
            "\n",
        );
      } else {
        process.stdout.write(formatMachine(format, { ...summary, alertList: alerts.map(alertLine) }));
      }
    });

  ruleOptions(rules.command("list"))
    .description("list every loaded rule with its source and severity")
    .option("-o, --output <format>", "table, json, jsonl or yaml", "table")
    .action(async (o: RuleFlags) => {
      const format = parseOutputFormat(o.output);
      const loaded = await load(o);
      const items = loaded.map((r) => ({
        id: r.id,
        title: r.title,
        severity: r.severity,
        source: r.source,
        ...(r.window && {
          window: { by: r.window.by, threshold: r.window.threshold, windowMs: r.window.windowMs },
        }),
        ...(r.allow && { allow: r.allow }),
      }));
      if (format === "table" || format === "wide") {
        process.stdout.write(
          formatTable(
            ["ID", "SEVERITY", "SOURCE", "TITLE"],
            items.map((r) => [r.id, r.severity, r.source, r.title]),
          ),
        );
      } else {
        process.stdout.write(formatMachine(format, { items }));
      }
    });
}

async function load(o: RuleFlags): Promise<Rule[]> {
  if (!o.builtins && o.rules.length === 0) {
    throw new CliError("no rules: give --rules DIR or keep the built-ins", USAGE_EXIT);
  }
  try {
    const config = o.rulesConfig ? await readRulesConfig(o.rulesConfig) : undefined;
    return await loadRules({ builtins: o.builtins, dirs: o.rules, config });
  } catch (err) {
    throw err instanceof DetectError ? new CliError(err.message, 1, { cause: err }) : err;
  }
}

function alertLine(a: Alert): {
  rule: string;
  severity: string;
  auditID: string;
  user: string;
  succeeded?: boolean;
  responseCode?: number;
} {
  // A windowed alert is reported under the event that completed it.
  return {
    rule: a.rule,
    severity: a.severity,
    auditID: a.auditIDs[a.auditIDs.length - 1] ?? "",
    user: a.user,
    ...(a.succeeded !== undefined && { succeeded: a.succeeded }),
    ...(a.responseCode !== undefined && { responseCode: a.responseCode }),
  };
}

function summarise(engine: RuleEngine, alerts: Alert[]) {
  const counts = new Map<string, number>();
  for (const a of alerts) counts.set(a.rule, (counts.get(a.rule) ?? 0) + 1);
  const rank = (s: string) => SEVERITIES.indexOf(s as (typeof SEVERITIES)[number]);
  const items = engine.rules
    .filter((r) => counts.has(r.id))
    .map((r) => ({ rule: r.id, title: r.title, severity: r.severity, alerts: counts.get(r.id) ?? 0 }))
    .sort(
      (a, b) => rank(b.severity) - rank(a.severity) || b.alerts - a.alerts || a.rule.localeCompare(b.rule),
    );
  return {
    events: engine.stats.events,
    alerts: alerts.length,
    skipped: engine.stats.ownRecords + engine.stats.unreadable,
    items,
  };
}
