// The witness's HTTP endpoints (C2SP tlog-witness): POST /add-checkpoint on the submission
// prefix and GET /<origin hash>/checkpoint on the monitoring prefix, both public — the
// checkpoint's signature is the only authentication the protocol has.
import type { ServerResponse } from "node:http";
import { readBody } from "../server/body.js";
import { HttpError, type Route } from "../server/route.js";
import type { Witness, WitnessReply } from "./witness.js";

/** An add-checkpoint body is a checkpoint and at most 63 hashes; this leaves room for many signatures. */
export const MAX_ADD_CHECKPOINT_BYTES = 256 * 1024;

/**
 * Writes the reply; `onSent` runs once it is handed to the kernel. The body goes as a string:
 * node:http then joins it to the headers in one write (one TLS record), where a Buffer body
 * would be a second chunk and a second record for both ends to seal and open.
 */
export function sendReply(res: ServerResponse, r: WitnessReply, onSent?: () => void): void {
  res.writeHead(r.status, { "Content-Type": r.contentType, "Content-Length": Buffer.byteLength(r.body) });
  res.end(r.body, "utf8", onSent);
}

/** POST /add-checkpoint (tlog-witness; the same body for a tlog-mirror): a bounded body in, the reply out. */
export function addCheckpointRoute(
  add: (body: string) => Promise<WitnessReply>,
  onReply?: (status: number) => void,
  onSent?: () => void,
): Route {
  return {
    method: "POST",
    pattern: "/add-checkpoint",
    scope: "public",
    async handle({ req, res }) {
      const { body } = await readBody(req, {
        maxBytes: MAX_ADD_CHECKPOINT_BYTES,
        maxDecodedBytes: MAX_ADD_CHECKPOINT_BYTES,
      });
      const r = await add(body.toString("utf8"));
      onReply?.(r.status);
      sendReply(res, r, onSent);
    },
  };
}

export function witnessRoutes(
  witness: Witness,
  onReply?: (status: number) => void,
  onSent?: () => void,
): Route[] {
  return [
    addCheckpointRoute((body) => witness.addCheckpoint(body), onReply, onSent),
    {
      method: "GET",
      pattern: "/:hash/checkpoint",
      scope: "public",
      async handle({ params, res }) {
        const hash = params["hash"] ?? "";
        if (!/^[0-9a-f]{64}$/.test(hash))
          throw new HttpError(404, "not a lowercase hex SHA-256 of an origin");
        const note = witness.latest(hash);
        if (note === null) throw new HttpError(404, "this witness has not cosigned a checkpoint of that log");
        sendReply(res, { status: 200, contentType: "text/plain; charset=utf-8", body: note });
      },
    },
  ];
}
