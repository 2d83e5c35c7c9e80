// Credentials recognised by their own shape: issuers' token formats (a fixed prefix, often a
// checksum alphabet and length), private keys, JSON Web Tokens, HTTP credentials and URLs with
// a password. Each one names keywords that every match contains (see keywords.ts): the
// pre-filter that spares most events any further look relies on them.
//
// Every pattern starts at a token boundary (a lookbehind on the token's own alphabet) and
// bounds its repetitions, so a hostile multi-megabyte value is scanned in linear time: a match
// can only begin where a run of token characters begins.

/** A credential's place in a text: text.slice(start, end) is the secret itself. */
export interface Span {
  start: number;
  end: number;
}

const ALNUM_LOWER = "abcdefghijklmnopqrstuvwxyz0123456789";

/**
 * Keywords are at least four characters (see keywords.ts): a three-character marker is given
 * with each character that can come after it (`sg.` → `sg.a`, `sg.b`, …) or before it.
 */
function followedBy(marker: string, chars: string): string[] {
  return [...chars].map((c) => marker + c);
}
function precededBy(chars: string, marker: string): string[] {
  return [...chars].map((c) => c + marker);
}

/** A detector that recognises a credential by its format. */
export interface FormatDetector {
  /** Stable name, reported with every finding (e.g. `aws-access-key-id`). */
  id: string;
  description: string;
  /** ASCII, case-insensitive, at least 3 characters; every match contains one of them. */
  keywords: readonly string[];
  /** Where the credentials in `text` are. */
  find(text: string): Span[];
}

export interface PatternSpec {
  id: string;
  description: string;
  keywords: readonly string[];
  /** Compiled with the `g` flag added. */
  pattern: RegExp;
  /** The capture group that is the secret; 0 (the default) is the whole match. */
  group?: number;
  /** A check on the secret the pattern cannot express (a decodable header, a checksum). */
  validate?: (secret: string) => boolean;
}

/** A detector from a regular expression (see PatternSpec). */
export function patternDetector(spec: PatternSpec): FormatDetector {
  const flags = spec.pattern.flags.includes("g") ? spec.pattern.flags : `${spec.pattern.flags}g`;
  // `d` gives the offsets of capture groups.
  const pattern = new RegExp(spec.pattern.source, flags.includes("d") ? flags : `${flags}d`);
  const group = spec.group ?? 0;
  return {
    id: spec.id,
    description: spec.description,
    keywords: spec.keywords,
    find(text) {
      const spans: Span[] = [];
      pattern.lastIndex = 0;
      for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
        if (m[0] === "") pattern.lastIndex++;
        const at = m.indices?.[group];
        if (at === undefined) continue;
        const secret = text.slice(at[0], at[1]);
        if (secret === "" || (spec.validate && !spec.validate(secret))) continue;
        spans.push({ start: at[0], end: at[1] });
      }
      return spans;
    },
  };
}

function decodeBase64(text: string): Buffer | undefined {
  const clean = text.replace(/[\r\n]/g, "");
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(clean)) return undefined;
  return Buffer.from(clean, clean.includes("-") || clean.includes("_") ? "base64url" : "base64");
}

/** Printable ASCII with a colon: `user:password`, what HTTP Basic credentials decode to. */
function isUserPassword(encoded: string): boolean {
  const bytes = decodeBase64(encoded);
  if (bytes === undefined || bytes.length < 3) return false;
  const text = bytes.toString("latin1");
  return /^[\x20-\x7e]+$/.test(text) && text.indexOf(":") > 0;
}

/** A JWT's header is base64url of a JSON object. */
function hasJsonHeader(token: string): boolean {
  const header = decodeBase64(token.slice(0, token.indexOf(".")));
  if (header === undefined) return false;
  try {
    const value: unknown = JSON.parse(header.toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

const PEM_BEGIN = /-----BEGIN[ A-Z0-9_-]{0,64}PRIVATE KEY(?: BLOCK)?-----/g;
const PEM_END = /-----END[ A-Z0-9_-]{0,64}PRIVATE KEY(?: BLOCK)?-----/g;

/**
 * PEM (and OpenSSH, PGP) private keys from the BEGIN line through the END line; without an
 * END line, through the end of the text (a cut-off key is still a key). Found by hand rather
 * than with one lazy pattern, which rescans to the end of the text for every BEGIN line.
 */
const privateKey: FormatDetector = {
  id: "private-key",
  description: "PEM, OpenSSH or PGP private key block (-----BEGIN … PRIVATE KEY-----)",
  keywords: ["private key"],
  find(text) {
    const spans: Span[] = [];
    PEM_BEGIN.lastIndex = 0;
    for (let m = PEM_BEGIN.exec(text); m !== null; m = PEM_BEGIN.exec(text)) {
      PEM_END.lastIndex = m.index + m[0].length;
      const end = PEM_END.exec(text);
      const stop = end === null ? text.length : end.index + end[0].length;
      spans.push({ start: m.index, end: stop });
      PEM_BEGIN.lastIndex = stop;
    }
    return spans;
  },
};

/** What the built-in detectors look for, in the order they are documented (docs/secrets.md). */
export const BUILTIN_FORMATS: readonly FormatDetector[] = [
  patternDetector({
    id: "aws-access-key-id",
    description: "AWS access key ID (AKIA…, ASIA…, ABIA…, ACCA… and 16 base32 characters)",
    keywords: ["akia", "asia", "abia", "acca"],
    pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Za-z0-9])/,
  }),
  privateKey,
  patternDetector({
    id: "private-key-base64",
    description: "a PEM private key, base64-encoded (kubeconfig client-key-data, Helm values)",
    keywords: ["ls0tls1crudjti"],
    pattern: /(?<![A-Za-z0-9+/])LS0tLS1CRUdJTi[A-Za-z0-9+/\r\n]{16,1048576}={0,2}/,
    validate: (s) => decodeBase64(s)?.toString("latin1").includes("PRIVATE KEY") === true,
  }),
  patternDetector({
    id: "jwt",
    description: "JSON Web Token (Kubernetes service account tokens, OIDC ID tokens)",
    keywords: [".eyj"],
    pattern:
      /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,65536}\.eyJ[A-Za-z0-9_-]{4,1048576}\.[A-Za-z0-9_-]{0,65536}/,
    validate: hasJsonHeader,
  }),
  patternDetector({
    id: "bearer",
    description: "HTTP Bearer credential (Authorization: Bearer …)",
    keywords: ["bearer"],
    pattern: /(?<![A-Za-z0-9])bearer[ \t]+([A-Za-z0-9._~+/-]{8,65536}=*)/i,
    group: 1,
  }),
  patternDetector({
    id: "basic",
    description: "HTTP Basic credential (Authorization: Basic base64(user:password))",
    keywords: ["basic"],
    pattern: /(?<![A-Za-z0-9])basic[ \t]+([A-Za-z0-9+/]{4,65536}={0,2})(?![A-Za-z0-9+/=])/i,
    group: 1,
    validate: isUserPassword,
  }),
  patternDetector({
    id: "url-password",
    description: "password in a URL's user information (scheme://user:password@host)",
    // The scheme's last character, then "://" (or JSON's escaped ":\/\/").
    keywords: [...precededBy(`${ALNUM_LOWER}+.-`, "://"), ":\\/\\/", ":\\//"],
    pattern:
      /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,30}:\/\/[^\s:@/"'<>\\]{1,256}:([^\s@/"'<>\\]{1,256})@/,
    group: 1,
  }),
  patternDetector({
    id: "github-token",
    description: "GitHub token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)",
    keywords: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
    pattern:
      /(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,244})(?![A-Za-z0-9_])/,
  }),
  patternDetector({
    id: "gitlab-token",
    description:
      "GitLab token (glpat-, gldt-, glptt-, glrt-, glcbt-, glsoat-, glffct-, glft-, glimt-, glagent-, gloas-, GR1348941)",
    keywords: [
      "glpat-",
      "gldt-",
      "glptt-",
      "glrt-",
      "glcbt-",
      "glsoat-",
      "glffct-",
      "glft-",
      "glimt-",
      "glagent-",
      "gloas-",
      "gr1348941",
    ],
    pattern:
      /(?<![A-Za-z0-9_-])(?:gl(?:pat|dt|ptt|rt|cbt|soat|ffct|ft|imt|agent|oas)-|GR1348941)[A-Za-z0-9_.-]{20,255}(?![A-Za-z0-9_-])/,
  }),
  patternDetector({
    id: "slack-token",
    description: "Slack token (xoxb-, xoxp-, xoxa-, xoxo-, xoxs-, xoxr-, xoxe-, xapp-)",
    keywords: ["xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxs-", "xoxr-", "xoxe", "xapp-"],
    pattern:
      /(?<![A-Za-z0-9-])(?:xox[abposre](?:\.[a-z]+)?-[A-Za-z0-9-]{10,250}|xapp-\d-[A-Za-z0-9-]{10,250})/,
  }),
  patternDetector({
    id: "slack-webhook",
    description: "Slack incoming-webhook or workflow URL (its path is the credential)",
    keywords: ["hooks.slack.com"],
    pattern: /hooks\.slack\.com\/((?:services|workflows|triggers)\/[A-Za-z0-9+/_-]{20,512})/,
    group: 1,
  }),
  patternDetector({
    id: "google-api-key",
    description: "Google API key (AIza…)",
    keywords: ["aiza"],
    pattern: /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])/,
  }),
  patternDetector({
    id: "google-oauth-client-secret",
    description: "Google OAuth client secret (GOCSPX-…)",
    keywords: ["gocspx-"],
    pattern: /(?<![A-Za-z0-9_-])GOCSPX-[A-Za-z0-9_-]{28}(?![A-Za-z0-9_-])/,
  }),
  patternDetector({
    id: "google-oauth-token",
    description: "Google OAuth access token (ya29.…)",
    keywords: ["ya29."],
    pattern: /(?<![A-Za-z0-9_-])ya29\.[0-9A-Za-z_-]{20,2048}/,
  }),
  patternDetector({
    id: "azure-storage-key",
    description:
      "Azure storage account or Service Bus key in a connection string (AccountKey=, SharedAccessKey=)",
    keywords: ["accountkey=", "sharedaccesskey="],
    pattern: /(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/]{20,1024}={0,2})/i,
    group: 1,
  }),
  patternDetector({
    id: "azure-sas-signature",
    description: "Azure shared access signature (sig= in a SAS URL or token)",
    keywords: ["sig="],
    pattern: /(?<![A-Za-z0-9])sig=((?:[A-Za-z0-9+/]|%2[Bb]|%2[Ff]){20,1024}(?:=|%3[Dd]){0,2})/,
    group: 1,
  }),
  patternDetector({
    id: "azure-client-secret",
    description: "Microsoft Entra ID (Azure AD) application client secret (…Q~…)",
    keywords: [..."0123456789"].flatMap((d) => followedBy(`${d}q~`, `${ALNUM_LOWER}_~.-`)),
    pattern: /(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])/,
  }),
  patternDetector({
    id: "stripe-key",
    description: "Stripe secret or restricted key (sk_live_, rk_live_, sk_test_, rk_test_)",
    keywords: ["sk_live_", "sk_test_", "rk_live_", "rk_test_"],
    pattern: /(?<![A-Za-z0-9_])[sr]k_(?:live|test)_[A-Za-z0-9]{10,247}(?![A-Za-z0-9_])/,
  }),
  patternDetector({
    id: "sendgrid-key",
    description: "SendGrid API key (SG.….…)",
    keywords: followedBy("sg.", `${ALNUM_LOWER}_-`),
    pattern: /(?<![A-Za-z0-9_-])SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/,
  }),
  patternDetector({
    id: "npm-token",
    description: "npm access token (npm_…)",
    keywords: ["npm_"],
    pattern: /(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9_])/,
  }),
  patternDetector({
    id: "pypi-token",
    description: "PyPI upload token (pypi-AgEIcHlwaS5vcmc…)",
    keywords: ["ageichlwas5vcmc"],
    pattern: /pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,2048}/,
  }),
  patternDetector({
    id: "docker-hub-token",
    description: "Docker Hub personal access token (dckr_pat_…)",
    keywords: ["dckr_pat_"],
    pattern: /(?<![A-Za-z0-9_])dckr_pat_[A-Za-z0-9_-]{27,128}/,
  }),
  patternDetector({
    id: "openai-key",
    description: "OpenAI API key (sk-…T3BlbkFJ…)",
    keywords: ["t3blbkfj"],
    pattern: /(?<![A-Za-z0-9_-])sk-(?:[a-z]+-)?[A-Za-z0-9_-]{16,256}T3BlbkFJ[A-Za-z0-9_-]{16,256}/,
  }),
  patternDetector({
    id: "anthropic-key",
    description: "Anthropic API key (sk-ant-…)",
    keywords: ["sk-ant-"],
    pattern: /(?<![A-Za-z0-9_-])sk-ant-[a-z]+\d\d-[A-Za-z0-9_-]{80,256}/,
  }),
  patternDetector({
    id: "vault-token",
    description: "HashiCorp Vault service or batch token (hvs., hvb.)",
    keywords: ["hvs.", "hvb."],
    pattern: /(?<![A-Za-z0-9_.-])hv[sb]\.[A-Za-z0-9_-]{24,512}/,
  }),
  patternDetector({
    id: "terraform-token",
    description: "Terraform Cloud / HCP Terraform API token (….atlasv1.…)",
    keywords: ["atlasv1"],
    pattern: /(?<![A-Za-z0-9])[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}/,
  }),
  patternDetector({
    id: "digitalocean-token",
    description: "DigitalOcean token (dop_v1_, doo_v1_, dor_v1_)",
    keywords: ["_v1_"],
    pattern: /(?<![A-Za-z0-9_])do[opr]_v1_[a-f0-9]{64}(?![A-Za-z0-9_])/,
  }),
  patternDetector({
    id: "shopify-token",
    description: "Shopify access token or shared secret (shpat_, shpca_, shppa_, shpss_)",
    keywords: ["shpat_", "shpca_", "shppa_", "shpss_"],
    pattern: /(?<![A-Za-z0-9_])shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}(?![A-Za-z0-9_])/,
  }),
  patternDetector({
    id: "age-secret-key",
    description: "age encryption secret key (AGE-SECRET-KEY-1…)",
    keywords: ["age-secret-key-1"],
    pattern: /AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}/,
  }),
  patternDetector({
    id: "huggingface-token",
    description: "Hugging Face access token (hf_…)",
    keywords: followedBy("hf_", ALNUM_LOWER),
    pattern: /(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{34,64}(?![A-Za-z0-9_])/,
  }),
  patternDetector({
    id: "alibaba-access-key-id",
    description: "Alibaba Cloud AccessKey ID (LTAI…)",
    keywords: ["ltai"],
    pattern: /(?<![A-Za-z0-9])LTAI[A-Za-z0-9]{12,20}(?![A-Za-z0-9])/,
  }),
  patternDetector({
    id: "atlassian-token",
    description: "Atlassian API token (ATATT3…)",
    keywords: ["atatt3"],
    pattern: /(?<![A-Za-z0-9_-])ATATT3[A-Za-z0-9_=-]{150,512}/,
  }),
  patternDetector({
    id: "grafana-token",
    description: "Grafana Cloud or service account token (glc_, glsa_)",
    keywords: ["glc_", "glsa_"],
    pattern: /(?<![A-Za-z0-9_])(?:glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})/,
  }),
  patternDetector({
    id: "newrelic-key",
    description: "New Relic user API key (NRAK-…)",
    keywords: ["nrak-"],
    pattern: /(?<![A-Za-z0-9])NRAK-[A-Z0-9]{27}(?![A-Za-z0-9])/,
  }),
  patternDetector({
    id: "databricks-token",
    description: "Databricks personal access token (dapi…)",
    keywords: ["dapi"],
    pattern: /(?<![A-Za-z0-9])dapi[a-f0-9]{32}(?:-\d)?(?![A-Za-z0-9])/,
  }),
  patternDetector({
    id: "postman-key",
    description: "Postman API key (PMAK-…)",
    keywords: ["pmak-"],
    pattern: /(?<![A-Za-z0-9])PMAK-[a-f0-9]{24}-[a-f0-9]{34}(?![A-Za-z0-9])/,
  }),
  patternDetector({
    id: "square-token",
    description: "Square access token or OAuth secret (sq0atp-, sq0csp-)",
    keywords: ["sq0atp-", "sq0csp-"],
    pattern: /(?<![A-Za-z0-9])sq0(?:atp|csp)-[A-Za-z0-9_-]{22,43}/,
  }),
  patternDetector({
    id: "sentry-token",
    description: "Sentry auth token (sntrys_, sntryu_)",
    keywords: ["sntrys_", "sntryu_"],
    pattern: /(?<![A-Za-z0-9_])sntry[su]_[A-Za-z0-9+/=_]{40,512}/,
  }),
  patternDetector({
    id: "doppler-token",
    description: "Doppler token (dp.pt., dp.st., dp.sa., dp.ct., dp.scim., dp.audit.)",
    keywords: ["dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit."],
    pattern: /(?<![A-Za-z0-9_.])dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,64}/,
  }),
  patternDetector({
    id: "linear-key",
    description: "Linear API key (lin_api_…)",
    keywords: ["lin_api_"],
    pattern: /(?<![A-Za-z0-9_])lin_api_[A-Za-z0-9]{40}(?![A-Za-z0-9_])/,
  }),
  patternDetector({
    id: "supabase-token",
    description: "Supabase access token (sbp_…)",
    keywords: ["sbp_"],
    pattern: /(?<![A-Za-z0-9_])sbp_[a-f0-9]{40}(?![A-Za-z0-9_])/,
  }),
  patternDetector({
    id: "heroku-key",
    description: "Heroku API key (HRKU-…)",
    keywords: ["hrku-"],
    pattern: /(?<![A-Za-z0-9_-])HRKU-[A-Za-z0-9_-]{60}(?![A-Za-z0-9_-])/,
  }),
  patternDetector({
    id: "flyio-token",
    description: "Fly.io access token (fo1_, fm2_)",
    keywords: ["fo1_", "fm2_"],
    pattern: /(?<![A-Za-z0-9_])f(?:o1|m2)_[A-Za-z0-9_+/=-]{40,1024}/,
  }),
  patternDetector({
    id: "telegram-bot-token",
    description: "Telegram bot token (digits:AA…)",
    keywords: precededBy("0123456789", ":aa"),
    pattern: /(?<![A-Za-z0-9])\d{8,10}:AA[A-Za-z0-9_-]{33}(?![A-Za-z0-9_-])/,
  }),
  patternDetector({
    id: "mailgun-key",
    description: "Mailgun API key (key-…)",
    keywords: ["key-"],
    pattern: /(?<![A-Za-z0-9_-])key-[0-9a-f]{32}(?![A-Za-z0-9_-])/,
  }),
];
