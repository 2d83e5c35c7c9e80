// Credentials recognised by what they are called: a value under a key such as `password`,
// `client_secret` or `AWS_SECRET_ACCESS_KEY` (an object's key, an environment variable's name,
// a `name=value` in a config file). The name alone is weak evidence, so the value is checked
// too: a password is any real value (passwords are often guessable, which is why they must not
// be stored), every other credential must look random (entropy and character classes), and
// placeholders (`${DB_PASSWORD}`, `<token>`, `true`) are never findings.

/** What a credential-like name calls for. */
export type KeyClass = "password" | "credential";

/** Last words that make a name a password (`dbPassword`, `MYSQL_ROOT_PASSWORD`, `pwd`). */
const PASSWORD_WORDS = ["password", "passwd", "passphrase", "passcode"];
const PASSWORD_EXACT = ["pass", "pwd"];
/** Last words that make a name a credential (`clientSecret`, `GITHUB_TOKEN`, `creds`). */
const CREDENTIAL_WORDS = ["secret", "token", "credential", "cred"];
/** `<qualifier> key` is a credential (`api_key`, `secretAccessKey`, `signing-key`); a bare `key` is not. */
const KEY_QUALIFIERS = [
  "api",
  "access",
  "private",
  "secret",
  "account",
  "signing",
  "encryption",
  "master",
  "shared",
  "auth",
  "session",
  "client",
];
/** Between a qualifier and `key` (camelCase joins them with nothing). */
const KEY_SEPARATORS = ["", "_", "-", ".", " "];

/**
 * Keywords every credential-like name contains, folded to lowercase (see keywords.ts): the
 * pre-filter finds them in the raw bytes of an event before anything is parsed.
 */
export function credentialNameKeywords(extraWords: readonly string[] = []): string[] {
  const compound = KEY_QUALIFIERS.flatMap((q) => KEY_SEPARATORS.map((sep) => `${q}${sep}key`));
  return [...new Set(["pass", "pwd", "secret", "token", "cred", ...compound, ...extraWords])];
}

/** The words of a name, lowercase: split at non-alphanumerics and camelCase humps. */
function wordsOf(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== "");
}

/** `tokens` → `token`, `password2` → `password`; `pass` stays. */
const lastWord = (w: string): string => {
  const bare = w.replace(/\d+$/, "");
  return bare.length > 3 && bare.endsWith("s") && !bare.endsWith("ss") ? bare.slice(0, -1) : bare;
};

/**
 * Whether `name` (a key, a variable name) names a credential, and which kind. Decided by the
 * name's last word, so `secretName`, `tokenTTL` and `passwordFile` are not credentials.
 */
export function classifyKey(name: string, extraWords: readonly string[] = []): KeyClass | undefined {
  if (name.length > 128) return undefined;
  const words = wordsOf(name);
  const last = lastWord(words.at(-1) ?? "");
  if (last === "") return undefined;
  if (PASSWORD_EXACT.includes(last) || PASSWORD_WORDS.some((w) => last.endsWith(w))) return "password";
  if (CREDENTIAL_WORDS.some((w) => last.endsWith(w))) return "credential";
  if (extraWords.some((w) => last.endsWith(w))) return "credential";
  if (last.endsWith("key")) {
    if (KEY_QUALIFIERS.some((q) => last === `${q}key` || last.endsWith(`${q}key`))) return "credential";
    if (last === "key" && words.length >= 2 && KEY_QUALIFIERS.includes(words.at(-2)!)) {
      // Only separators the keywords list: `api/key` is a path, not a name.
      const folded = name.toLowerCase();
      const q = words.at(-2)!;
      if (KEY_SEPARATORS.some((sep) => folded.includes(`${q}${sep}key`))) return "credential";
    }
  }
  return undefined;
}

/** Values that stand for a credential without being one: references, templates, switches. */
const PLACEHOLDER = [
  /^\$\{[^}]*\}$/, // ${VAR}
  /^\$\([^)]*\)$/, // $(VAR), Kubernetes env expansion
  /^\$[A-Za-z_][A-Za-z0-9_]*$/, // $VAR
  /^\{\{[\s\S]*\}\}$/, // {{ template }}
  /^<[^<>]*>$/, // <your-token>
  /^%\([^)]*\)s$/,
  /^[*xX•.#-]+$/, // ****, xxxx, masked already
  /^(?:true|false|yes|no|on|off|null|nil|none|undefined|enabled|disabled|required|optional|redacted)$/i,
];

function isPlaceholder(value: string): boolean {
  return PLACEHOLDER.some((p) => p.test(value));
}

/** Shannon entropy of the value's characters, in bits per character. */
export function entropy(value: string): number {
  const counts = new Map<string, number>();
  for (const c of value) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  const n = [...value].length;
  for (const k of counts.values()) bits -= (k / n) * Math.log2(k / n);
  return bits;
}

/** Words and paths, not tokens: `kube-system`, `my_tls_secret`, `/etc/secret/token`, `https://…`. */
const WORD_LIKE =
  /^(?:[a-z]+(?:[-_.][a-z]+)*|[A-Z]+(?:[-_.][A-Z]+)*|(?:\/|\.{1,2}\/|[a-z][a-z0-9+.-]*:\/\/)\S*)$/;

export const MIN_RANDOM_LENGTH = 8;
export const MIN_RANDOM_ENTROPY = 3.0;

/**
 * Whether `value`, found under a name of class `kind`, is a credential: a password is any value
 * with a letter or digit that is not a placeholder; any other credential must be one token of
 * at least 8 characters, not made of plain words, with at least 3 bits of entropy per character.
 */
export function isCredentialValue(value: string, kind: KeyClass): boolean {
  const v = value.trim();
  if (v === "" || !/[A-Za-z0-9]/.test(v) || isPlaceholder(v)) return false;
  if (kind === "password") return true;
  return (
    v.length >= MIN_RANDOM_LENGTH && !/\s/.test(v) && !WORD_LIKE.test(v) && entropy(v) >= MIN_RANDOM_ENTROPY
  );
}

/** An AWS secret access key under a name that says so (`aws_secret_access_key`, `SecretAccessKey`). */
export function isAwsSecretKey(name: string, value: string): boolean {
  const words = wordsOf(name).join(" ");
  return /secret ?access ?key/.test(words) && /^[A-Za-z0-9+/]{40}$/.test(value.trim());
}
