// Generic webhook: POSTs each alert as JSON. The bearer token is read from a file at each send,
// so it can be rotated without a restart, and it never appears in errors or logs.
import { readFile } from "node:fs/promises";
import type { AlertSink, RecordedAlert } from "../types.js";
import { DetectError } from "../types.js";
import { postJson } from "./http-post.js";

export interface WebhookSinkOptions {
  url: string;
  tokenFile?: string;
  ca?: Buffer;
  timeoutMs?: number;
}

export function webhookSink(opts: WebhookSinkOptions): AlertSink {
  const url = new URL(opts.url);
  return {
    name: "webhook",
    async send(alert: RecordedAlert) {
      const headers: Record<string, string> = {};
      if (opts.tokenFile) headers.authorization = `Bearer ${await readToken(opts.tokenFile)}`;
      await postJson("webhook", url, alert, { headers, ca: opts.ca, timeoutMs: opts.timeoutMs });
    },
  };
}

async function readToken(file: string): Promise<string> {
  let token: string;
  try {
    token = (await readFile(file, "utf8")).trim();
  } catch (err) {
    throw new DetectError(
      "sink",
      `webhook sink: token file ${file}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`,
      { cause: err },
    );
  }
  if (token === "" || /\s/.test(token)) {
    throw new DetectError("sink", `webhook sink: token file ${file} must hold one token`);
  }
  return token;
}
