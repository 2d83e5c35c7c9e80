// Slack incoming webhook: a plain-text line (for notifications) plus Block Kit blocks.
import { describeObject } from "../alert-record.js";
import type { AlertSink, RecordedAlert } from "../types.js";
import { postJson } from "./http-post.js";

export function slackSink(opts: { url: string; timeoutMs?: number }): AlertSink {
  const url = new URL(opts.url);
  return {
    name: "slack",
    send: (alert) => postJson("slack", url, slackMessage(alert), { timeoutMs: opts.timeoutMs }),
  };
}

/** Slack treats &, < and > as markup; everything user-controlled is escaped. */
function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function slackMessage(alert: RecordedAlert): { text: string; blocks: unknown[] } {
  const object = describeObject(alert.object) || "(no object)";
  const text = `[${alert.severity.toUpperCase()}] ${alert.title}: ${alert.user || "(unknown user)"} on ${object} at ${alert.time}`;
  const field = (label: string, value: string) => ({ type: "mrkdwn", text: `*${label}*\n${esc(value)}` });
  return {
    text: esc(text),
    blocks: [
      {
        type: "header",
        text: { type: "plain_text", text: `${alert.title} (${alert.severity})`.slice(0, 150) },
      },
      { type: "section", text: { type: "mrkdwn", text: esc(alert.description) } },
      {
        type: "section",
        fields: [
          field("User", alert.user || "(unknown)"),
          field("Object", object),
          field("Time", alert.time),
          field("Rule", alert.rule),
        ],
      },
      {
        type: "context",
        elements: [
          {
            type: "mrkdwn",
            text: esc(
              `log entries ${alert.indexes.join(", ")}${alert.alertIndex !== undefined ? ` · alert entry ${alert.alertIndex}` : ""} · auditID ${alert.auditIDs[0] ?? ""}`,
            ),
          },
        ],
      },
    ],
  };
}
