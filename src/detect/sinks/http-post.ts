// One JSON POST with a timeout, over http or https (with an optional private CA). Errors name
// the sink and the URL's origin only: webhook paths (Slack's in particular) are secrets.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { DetectError } from "../types.js";

export interface PostOptions {
  headers?: Record<string, string>;
  ca?: Buffer;
  timeoutMs?: number;
}

export function postJson(sink: string, url: URL, body: unknown, opts: PostOptions = {}): Promise<void> {
  const payload = Buffer.from(JSON.stringify(body));
  const fail = (reason: string) => new DetectError("sink", `${sink} sink (${url.origin}): ${reason}`);
  return new Promise((resolve, reject) => {
    const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(
      url,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-length": String(payload.length),
          "user-agent": "kubetrail",
          ...opts.headers,
        },
        ca: opts.ca,
        timeout: opts.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve();
          const text = Buffer.concat(chunks).toString("utf8").slice(0, 200);
          reject(fail(`HTTP ${status}${text ? `: ${text}` : ""}`));
        });
        res.on("error", (err) => reject(fail(err.message)));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (err) => reject(fail(err.message)));
    req.end(payload);
  });
}
