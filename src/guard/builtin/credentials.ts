// No credentials where they do not belong: in a ConfigMap's data or binaryData, or in a
// container's environment values (where `kubectl describe` and every reader of the pod spec
// sees them). Found with the same detectors redaction uses (src/secrets): by a value's own
// format (cloud keys, private keys, JWTs, tokens) or by the name it is stored under. A
// violation says what kind of credential and where, never the value.
import { isRecord } from "../../json/record.js";
import { SecretScanner, type SecretFinding } from "../../secrets/index.js";
import type { Violation } from "../types.js";
import type { PodTemplate } from "./pod-templates.js";

export interface CredentialSettings {
  configMaps: boolean;
  env: boolean;
  /** Also report values that look like credentials only because of their name (DB_PASSWORD=…). */
  byName: boolean;
}

export const DEFAULT_CREDENTIAL_SETTINGS: CredentialSettings = { configMaps: true, env: true, byName: true };

let scanner: SecretScanner | undefined;

function findings(value: string, key: string, s: CredentialSettings): SecretFinding[] {
  scanner ??= new SecretScanner();
  const found = scanner.detect(value, { key });
  return s.byName || found.length === 0 ? found : found.filter((f) => f.basis === "format");
}

/** `data.KEY`, or `data["app.properties"]` when the key is not an identifier. */
function member(base: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

function kinds(found: readonly SecretFinding[]): string {
  return [...new Set(found.map((f) => f.kind))].join(", ");
}

function decodedText(base64: string): string | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64.replace(/\s+/g, ""))) return undefined;
  const text = Buffer.from(base64, "base64").toString("utf8");
  // Binary content (an image, an archive) is no place for a readable credential to hide.
  return text.includes("\uFFFD") ? undefined : text;
}

export function checkConfigMapCredentials(
  object: Record<string, unknown> | null,
  s: CredentialSettings,
): Violation[] {
  if (!s.configMaps || object === null) return [];
  const out: Violation[] = [];
  for (const [section, decode] of [
    ["data", (v: string) => v],
    ["binaryData", decodedText],
  ] as const) {
    const entries = object[section];
    if (!isRecord(entries)) continue;
    for (const [key, raw] of Object.entries(entries)) {
      const text = typeof raw === "string" ? decode(raw) : undefined;
      if (text === undefined) continue;
      const found = findings(text, key, s);
      if (found.length > 0)
        out.push({
          check: "configMapCredential",
          field: member(section, key),
          message: `ConfigMap ${section} ${JSON.stringify(key)} holds a credential (${kinds(found)}); use a Secret`,
        });
    }
  }
  return out;
}

export function checkEnvCredentials(t: PodTemplate, s: CredentialSettings): Violation[] {
  if (!s.env) return [];
  const out: Violation[] = [];
  for (const c of t.containers) {
    const env = c.container["env"];
    if (!Array.isArray(env)) continue;
    env.forEach((e: unknown, i) => {
      if (!isRecord(e) || typeof e["value"] !== "string") return;
      const name = typeof e["name"] === "string" ? e["name"] : "";
      const found = findings(e["value"], name, s);
      if (found.length > 0)
        out.push({
          check: "envCredential",
          field: `${c.path}.env[${i}].value`,
          message: `container "${c.name}" env ${name} holds a credential (${kinds(found)}); use valueFrom.secretKeyRef`,
        });
    });
  }
  return out;
}
