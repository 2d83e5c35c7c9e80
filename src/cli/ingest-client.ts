// The client side of a running server's ingest API (POST /v1/audit/webhook) for commands that
// feed it: HTTPS only, with an ingest token read from a file or a client certificate, the
// server checked against a CA. The token never appears in arguments, messages or errors.
import { readFileSync } from "node:fs";
import https from "node:https";
import type { PostBatch } from "../ingest/remote-import.js";
import { CliError } from "./errors.js";

export interface IngestCredentials {
  tokenFile?: string;
  clientCert?: string;
  clientKey?: string;
  ca?: string;
}

function readSecret(file: string, flag: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new CliError(
      `${flag} ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      2,
    );
  }
}

/** kubetrail's address as given with --server; `why` says why only https:// will do. */
export function serverUrl(text: string, why: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(
      `--server: ${JSON.stringify(text)} is not a URL (e.g. https://kubetrail.example:8443)`,
      2,
    );
  }
  if (url.protocol !== "https:") throw new CliError(`--server: must be an https:// URL (${why})`, 2);
  return url;
}

/** The webhook URL of `server`. */
export function webhookUrl(server: string): URL {
  return new URL(
    "/v1/audit/webhook",
    serverUrl(server, "audit events and the credential must not travel in clear"),
  );
}

/** A PostBatch over one keep-alive HTTPS connection pool; `close` ends it. */
export function ingestClient(server: string, creds: IngestCredentials): { post: PostBatch; close(): void } {
  const url = webhookUrl(server);
  if (creds.tokenFile === undefined && creds.clientCert === undefined)
    throw new CliError(
      "--server needs a credential: --token-file FILE (an ingest token) or --client-cert/--client-key",
      2,
    );
  if ((creds.clientCert === undefined) !== (creds.clientKey === undefined))
    throw new CliError("--client-cert and --client-key go together", 2);
  let token: string | undefined;
  if (creds.tokenFile !== undefined) {
    token = readSecret(creds.tokenFile, "--token-file").split("\n")[0]!.trim();
    if (token === "") throw new CliError(`--token-file ${creds.tokenFile}: the first line is empty`, 2);
  }
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: 1,
    ca: creds.ca === undefined ? undefined : readSecret(creds.ca, "--ca"),
    cert: creds.clientCert === undefined ? undefined : readSecret(creds.clientCert, "--client-cert"),
    key: creds.clientKey === undefined ? undefined : readSecret(creds.clientKey, "--client-key"),
  });
  const post: PostBatch = (body) =>
    new Promise((resolve, reject) => {
      const req = https.request(
        url,
        {
          method: "POST",
          agent,
          timeout: 120_000,
          headers: {
            "Content-Type": "application/json",
            "Content-Length": body.length,
            "User-Agent": "kubetrail-import",
            ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const retry = Number(res.headers["retry-after"]);
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString("utf8"),
              ...(Number.isFinite(retry) && retry >= 0 ? { retryAfterS: retry } : {}),
            });
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("no reply within 120 s")));
      req.on("error", reject);
      req.end(body);
    });
  return { post, close: () => agent.destroy() };
}
