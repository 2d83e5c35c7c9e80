// The body of a POST that must be JSON (the audit and admission webhooks): a missing
// Content-Type is taken as JSON, as the apiserver's clients send it; any other type is a 415.
import type { IncomingMessage } from "node:http";
import { readBody, type BodyLimits, type ReceivedBody } from "./body.js";
import { HttpError } from "./route.js";

export function readJsonBody(req: IncomingMessage, limits: BodyLimits): Promise<ReceivedBody> {
  const type = (req.headers["content-type"] ?? "application/json").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") {
    req.resume();
    return Promise.reject(new HttpError(415, `Content-Type ${type} is not application/json`));
  }
  return readBody(req, limits);
}
