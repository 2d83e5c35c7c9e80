// Credentials of every kind kubetrail's detectors know (docs/secrets.md), made up from a seed:
// the values the redaction tests plant in events and the ingest bench mixes into its bodies.
// None is a real credential; each has the format its issuer uses.
import { generateKeyPairSync } from "node:crypto";
import { makeRng, type Rng } from "./rng.js";

export interface PlantedSecret {
  /** The finding kind the detectors must report for it. */
  kind: string;
  /** The secret itself: what must never be stored. */
  secret: string;
  /** The value as it is planted: the secret, or a text around it (`Authorization: Bearer …`). */
  value: string;
  /** The name it is planted under, when its name is what tells (a password). */
  key?: string;
}

const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER = "abcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";
const ALNUM = UPPER + LOWER + DIGITS;
const B64 = ALNUM + "+/";
const B64URL = ALNUM + "-_";
const HEX = "0123456789abcdef";

function chars(rng: Rng, alphabet: string, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[rng.int(alphabet.length)];
  return s;
}

const b64url = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString("base64url");

function jwt(rng: Rng): string {
  const header = b64url({ alg: "RS256", kid: chars(rng, B64URL, 20) });
  const payload = b64url({
    iss: "https://kubernetes.default.svc.cluster.local",
    sub: `system:serviceaccount:ns-${chars(rng, LOWER, 6)}:default`,
    exp: 1_900_000_000 + rng.int(1e6),
  });
  return `${header}.${payload}.${chars(rng, B64URL, 342)}`;
}

/** A fresh PEM private key (PKCS#8), as a ConfigMap or a Helm value might carry one by mistake. */
function pemKey(): string {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

/**
 * One credential of each kind, different for each seed. The PEM key comes from the system's
 * random generator (a key cannot be derived from the seed cheaply), the rest from the seed.
 */
export function plantedSecrets(seed: number): PlantedSecret[] {
  const rng = makeRng(seed);
  const pem = pemKey();
  const user = `user${chars(rng, DIGITS, 4)}`;
  const basicPassword = chars(rng, ALNUM, 18);
  const bearer = chars(rng, B64URL, 40);
  const urlPassword = chars(rng, ALNUM, 16);
  const s = (kind: string, secret: string, value = secret, key?: string): PlantedSecret =>
    key === undefined ? { kind, secret, value } : { kind, secret, value, key };
  const list: PlantedSecret[] = [
    s("aws-access-key-id", `AKIA${chars(rng, UPPER + "234567", 16)}`),
    s("private-key", pem.trimEnd(), pem),
    s("private-key-base64", Buffer.from(pem).toString("base64")),
    s("jwt", jwt(rng)),
    s("bearer", bearer, `Bearer ${bearer}`),
    s(
      "basic",
      Buffer.from(`${user}:${basicPassword}`).toString("base64"),
      `Basic ${Buffer.from(`${user}:${basicPassword}`).toString("base64")}`,
    ),
    s("url-password", urlPassword, `postgres://${user}:${urlPassword}@db.example.internal:5432/app`),
    s("github-token", `ghp_${chars(rng, ALNUM, 36)}`),
    s("github-token", `github_pat_${chars(rng, ALNUM, 22)}_${chars(rng, ALNUM, 59)}`),
    s("gitlab-token", `glpat-${chars(rng, B64URL.replace("-", ""), 20)}`),
    s("slack-token", `xoxb-${chars(rng, DIGITS, 12)}-${chars(rng, DIGITS, 13)}-${chars(rng, ALNUM, 24)}`),
    s(
      "slack-webhook",
      `services/T${chars(rng, UPPER + DIGITS, 8)}/B${chars(rng, UPPER + DIGITS, 10)}/${chars(rng, ALNUM, 24)}`,
      "",
    ),
    s("google-api-key", `AIza${chars(rng, B64URL, 35)}`),
    s("google-oauth-client-secret", `GOCSPX-${chars(rng, B64URL, 28)}`),
    s("google-oauth-token", `ya29.${chars(rng, B64URL, 120)}`),
    s("azure-storage-key", `${chars(rng, B64, 86)}==`, ""),
    s("azure-sas-signature", `${chars(rng, ALNUM, 43)}%3D`, ""),
    s("azure-client-secret", `${chars(rng, ALNUM, 3)}${rng.int(10)}Q~${chars(rng, ALNUM + "_.-", 34)}`),
    s("stripe-key", `sk_live_${chars(rng, ALNUM, 99)}`),
    s("sendgrid-key", `SG.${chars(rng, B64URL, 22)}.${chars(rng, B64URL, 43)}`),
    s("npm-token", `npm_${chars(rng, ALNUM, 36)}`),
    s("pypi-token", `pypi-AgEIcHlwaS5vcmc${chars(rng, B64URL, 70)}`),
    s("docker-hub-token", `dckr_pat_${chars(rng, B64URL, 27)}`),
    s("openai-key", `sk-proj-${chars(rng, ALNUM, 40)}T3BlbkFJ${chars(rng, ALNUM, 40)}`),
    s("anthropic-key", `sk-ant-api03-${chars(rng, B64URL, 93)}AA`),
    s("vault-token", `hvs.${chars(rng, B64URL, 90)}`),
    s("terraform-token", `${chars(rng, ALNUM, 14)}.atlasv1.${chars(rng, ALNUM, 67)}`),
    s("digitalocean-token", `dop_v1_${chars(rng, HEX, 64)}`),
    s("shopify-token", `shpat_${chars(rng, HEX, 32)}`),
    s("age-secret-key", `AGE-SECRET-KEY-1${chars(rng, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)}`),
    s("huggingface-token", `hf_${chars(rng, ALNUM, 34)}`),
    s("alibaba-access-key-id", `LTAI${chars(rng, ALNUM, 20)}`),
    s("atlassian-token", `ATATT3${chars(rng, B64URL, 180)}=${chars(rng, HEX.toUpperCase(), 8)}`),
    s("grafana-token", `glsa_${chars(rng, ALNUM, 32)}_${chars(rng, HEX, 8)}`),
    s("newrelic-key", `NRAK-${chars(rng, UPPER + DIGITS, 27)}`),
    s("databricks-token", `dapi${chars(rng, HEX, 32)}`),
    s("postman-key", `PMAK-${chars(rng, HEX, 24)}-${chars(rng, HEX, 34)}`),
    s("square-token", `sq0atp-${chars(rng, B64URL, 22)}`),
    s("sentry-token", `sntrys_${chars(rng, ALNUM, 80)}`),
    s("doppler-token", `dp.pt.${chars(rng, ALNUM, 43)}`),
    s("linear-key", `lin_api_${chars(rng, ALNUM, 40)}`),
    s("supabase-token", `sbp_${chars(rng, HEX, 40)}`),
    s("heroku-key", `HRKU-${chars(rng, B64URL, 60)}`),
    s("flyio-token", `fo1_${chars(rng, B64URL, 43)}`),
    s("telegram-bot-token", `${rng.range(10_000_000, 99_999_999)}:AA${chars(rng, B64URL, 33)}`),
    s("mailgun-key", `key-${chars(rng, HEX, 32)}`),
    // Told by the name they are stored under.
    s("password", `pw-${chars(rng, LOWER, 6)}${rng.int(100)}`, undefined, "DB_PASSWORD"),
    s("credential", chars(rng, B64URL, 32), undefined, "client_secret"),
    s("aws-secret-access-key", chars(rng, B64, 40), undefined, "AWS_SECRET_ACCESS_KEY"),
  ];
  // Values that need a text around them to be recognised.
  for (const p of list) {
    if (p.value !== "") continue;
    if (p.kind === "slack-webhook") p.value = `https://hooks.slack.com/${p.secret}`;
    if (p.kind === "azure-storage-key")
      p.value = `DefaultEndpointsProtocol=https;AccountName=store${chars(rng, LOWER, 6)};AccountKey=${p.secret};EndpointSuffix=core.windows.net`;
    if (p.kind === "azure-sas-signature")
      p.value = `https://store.blob.core.windows.net/c/b?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01T00:00:00Z&sig=${p.secret}`;
  }
  return list;
}

/** Credentials inside a config file's text, told by the names they are assigned to. */
export function plantedAssignments(seed: number): PlantedSecret[] {
  const rng = makeRng(seed ^ 0x5eed);
  const password = `${chars(rng, ALNUM, 12)}!`;
  const apiKey = chars(rng, ALNUM, 32);
  const token = chars(rng, B64URL, 40);
  const awsSecret = chars(rng, B64, 40);
  const text = [
    "# application.properties",
    "spring.datasource.url=jdbc:postgresql://db:5432/app",
    `spring.datasource.password=${password}`,
    `x-api-key: ${apiKey}`,
    `export GITHUB_TOKEN="${token}"`,
    `aws_secret_access_key = ${awsSecret}`,
  ].join("\n");
  return [
    { kind: "password", secret: password, value: text },
    { kind: "credential", secret: apiKey, value: text },
    { kind: "credential", secret: token, value: text },
    { kind: "aws-secret-access-key", secret: awsSecret, value: text },
  ];
}
