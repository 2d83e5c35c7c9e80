// Builds sinks from the rules config's `sinks:` list.
import { readFile } from "node:fs/promises";
import type { SinkSpec } from "../rules-config.js";
import { DetectError, type AlertSink } from "../types.js";
import { alertmanagerSink } from "./alertmanager.js";
import { slackSink } from "./slack.js";
import { stdoutSink, type StdoutTarget } from "./stdout.js";
import { webhookSink } from "./webhook.js";

export async function createSinks(
  specs: SinkSpec[],
  targets: { stdout?: StdoutTarget } = {},
): Promise<AlertSink[]> {
  return Promise.all(
    specs.map(async (s): Promise<AlertSink> => {
      switch (s.type) {
        case "stdout":
          return stdoutSink(targets.stdout);
        case "webhook":
          return webhookSink({ url: s.url, tokenFile: s.tokenFile, ca: await readCa(s.caFile) });
        case "slack":
          return slackSink({ url: s.url });
        case "alertmanager":
          return alertmanagerSink({ url: s.url, generatorURL: s.generatorURL, ca: await readCa(s.caFile) });
      }
    }),
  );
}

async function readCa(file: string | undefined): Promise<Buffer | undefined> {
  if (!file) return undefined;
  try {
    return await readFile(file);
  } catch (err) {
    throw new DetectError("config", `CA file ${file}: ${(err as Error).message}`, { cause: err });
  }
}

export { alertmanagerSink, slackSink, stdoutSink, webhookSink };
