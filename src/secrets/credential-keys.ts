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
 * The words a credential-like name ends with (modulo a plural `s`, digits and trailing
 * separators; see classifyKey), folded to lowercase: the pre-filter looks for them in the raw
 * bytes of an event (keywords.ts), and confirmNameKeyword checks that something is assigned.
 */
export function credentialNameKeywords(extraWords: readonly string[] = []): string[] {
  const compound = KEY_QUALIFIERS.flatMap((q) => KEY_SEPARATORS.map((sep) => `${q}${sep}key`));
  const words = [...PASSWORD_WORDS, ...PASSWORD_EXACT, ...CREDENTIAL_WORDS, ...compound, ...extraWords];
  // Keywords have four characters at least: a shorter word comes with each character that may
  // follow it where something is assigned to it (see confirmNameKeyword).
  return [...new Set(words.flatMap((w) => (w.length >= 4 ? [w] : [...AFTER_NAME].map((c) => w + c))))];
}

/** What follows a name's last word where something is assigned to it: a suffix, or the assignment. */
const AFTER_NAME = `s0123456789_.-=: "'\\`;

const byte = (c: string): number => c.charCodeAt(0);
const NAME_BYTE = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") NAME_BYTE[byte(c)] = 1;
const [QUOTE, APOS, BACKSLASH, COMMA, COLON, EQUALS, SPACE, TAB, DASH] = [..."\"'\\,:= \t-"].map(byte);
const VALUE_KEY = Buffer.from('"value"');
const ESCAPED_VALUE_KEY = Buffer.from('\\"value\\"');

function skipBlanks(b: Uint8Array, i: number, to: number): number {
  while (i < to && (b[i] === SPACE || b[i] === TAB)) i++;
  return i;
}

function startsWithAt(b: Uint8Array, i: number, to: number, what: Uint8Array): boolean {
  if (i + what.length > to) return false;
  for (let j = 0; j < what.length; j++) if (b[i + j] !== what[j]) return false;
  return true;
}

/**
 * For the raw pre-filter: whether a name keyword found at [start, end) of JSON bytes could be
 * the end of a name that something is assigned to, the way the scanner finds names: an object
 * key (`…password":`), a text assignment (`…password=`, `…password: `, `\"password\":`), the
 * `name` of a `{name, value}` pair (`…PASSWORD","value":`), or a flag (`--token …`,
 * `"--token","…"`). Most mentions of `secret` or `token` in an event (the `secrets` resource,
 * `/serviceaccounts/x/token`) are none of these, and need no closer look.
 */
export function confirmNameKeyword(
  b: Uint8Array,
  start: number,
  end: number,
  from: number,
  to: number,
): boolean {
  let j = end;
  if (j < to && (b[j]! | 0x20) === 0x73) j++; // a plural s
  while (j < to && b[j]! >= 0x30 && b[j]! <= 0x39) j++;
  while (j < to && (b[j] === 0x5f || b[j] === 0x2e || b[j] === DASH)) j++;
  if (j >= to) return false;
  let nameStart = start;
  while (nameStart > from && start - nameStart < 64 && NAME_BYTE[b[nameStart - 1]!] === 1) nameStart--;
  const isFlag = b[nameStart] === DASH;
  const c = b[j];
  if (c === EQUALS || c === COLON) return true;
  if (c === SPACE || c === TAB) {
    const k = skipBlanks(b, j, to);
    return b[k] === EQUALS || b[k] === COLON || isFlag;
  }
  const escaped = c === BACKSLASH && (b[j + 1] === QUOTE || b[j + 1] === APOS);
  if (!escaped && c !== QUOTE && c !== APOS) return false;
  let k = skipBlanks(b, j + (escaped ? 2 : 1), to);
  if (b[k] === COLON || b[k] === EQUALS) return true;
  if (b[k] !== COMMA) return false;
  if (isFlag) return true;
  k = skipBlanks(b, k + 1, to);
  return startsWithAt(b, k, to, escaped ? ESCAPED_VALUE_KEY : VALUE_KEY);
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
