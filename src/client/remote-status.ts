// GET /v1/status of a running server: the same report `kubetrail status --data` makes, taken by
// the server from its own data directory. Sizes and positions are the server's word (they
// prove nothing); the checkpoint in it is checked against the pinned key when there is one.
import { isRecord } from "../json/record.js";
import type { StatusReport } from "../status/collect.js";
import { encodeBase64 } from "../tlog/index.js";
import { apiClient, type RemoteSettings } from "./connect.js";
import { ClientError } from "./errors.js";
import { trustCheckpoint } from "./proven.js";

export async function remoteStatus(s: RemoteSettings): Promise<StatusReport> {
  const api = apiClient(s);
  const where = `${api.server}/v1/status`;
  let body: unknown;
  try {
    body = await api.get("v1/status");
  } finally {
    api.close();
  }
  const report = checkShape(body, where);
  const cp = report.checkpoint;
  if (s.verifierKey !== undefined && s.verifierKey !== "" && cp.state === "ok") {
    if (typeof cp.note !== "string") throw junk(where, `"checkpoint.note" is missing`);
    const trusted = trustCheckpoint(cp.note, s.verifierKey, where);
    if (trusted.size !== cp.size)
      throw new ClientError(
        "forged",
        `${where}: the report says the checkpoint is of size ${cp.size}, its signed note says ${trusted.size}`,
      );
    // The table prints the root hash too: it must be the one signed.
    const root = encodeBase64(trusted.rootHash);
    if (cp.rootHash !== undefined && cp.rootHash !== root)
      throw new ClientError(
        "forged",
        `${where}: the report says the checkpoint's root hash is ${cp.rootHash}, its signed note says ${root}`,
      );
  }
  return report;
}

function junk(where: string, what: string): ClientError {
  return new ClientError("junk", `${where}: ${what} (is this a kubetrail server?)`);
}

/** The fields the table prints, checked: a report is rendered, never trusted to be well-formed. */
export function checkShape(body: unknown, where: string): StatusReport {
  const obj = (v: unknown, name: string): Record<string, unknown> => {
    if (!isRecord(v)) throw junk(where, `"${name}" is not an object`);
    return v;
  };
  const r = obj(body, "the answer");
  if (r["kind"] !== "Status") throw junk(where, `"kind" is not "Status"`);
  for (const part of ["log", "checkpoint", "index", "detector", "dedupe", "guard", "retention", "disk"])
    obj(r[part], part);
  const disk = obj(r["disk"], "disk");
  if (!Array.isArray(disk["parts"])) throw junk(where, `"disk.parts" is not a list`);
  for (const [i, p] of (disk["parts"] as unknown[]).entries()) {
    const part = obj(p, `disk.parts[${i}]`);
    if (
      typeof part["part"] !== "string" ||
      typeof part["bytes"] !== "number" ||
      typeof part["files"] !== "number"
    )
      throw junk(where, `"disk.parts[${i}]" is not a part with bytes and files`);
  }
  const total = obj(disk["total"], "disk.total");
  if (typeof total["bytes"] !== "number" || typeof total["files"] !== "number")
    throw junk(where, `"disk.total" has no bytes or files`);
  if (typeof obj(r["log"], "log")["entries"] !== "number") throw junk(where, `"log.entries" is not a number`);
  // Newer than the other parts: a server from before it does not send it.
  if (r["published"] === undefined)
    r["published"] = { state: "not-run", message: "not reported by this server (an older kubetrail)" };
  const cosigners = obj(r["published"], "published")["cosigners"];
  if (cosigners !== undefined && !(Array.isArray(cosigners) && cosigners.every((c) => typeof c === "string")))
    throw junk(where, `"published.cosigners" is not a list of names`);
  return body as StatusReport;
}
