// Key material of one log, kept under DATA/keys/: the Ed25519 note signing key (its name
// is the log's origin line) and the HMAC key used to mask secrets before they are hashed.
// Private keys are written with mode 0600 and never logged.
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { Keyring } from "../../keys/keyring.js";
import { generateNoteKey } from "../../tlog/index.js";
import { readFileIfExists, writeFileAtomic } from "../durable-file.js";
import { defaultOrigin, type LogKeys } from "../log-core.js";
import { LogError } from "../types.js";
import { FsLayout } from "./layout.js";

const SIGNING_KEY = "signing.key";
const VERIFIER_KEY = "verifier.key";
const REDACTION_KEY = "redaction.key";

function keyFile(dataDir: string, name: string): string {
  return path.join(new FsLayout(dataDir).keysDir, name);
}

/**
 * Loads the log's signing key, creating it on first use. The origin is fixed at creation:
 * asking for a different one later is an error, because every checkpoint names it.
 */
export async function loadOrCreateSigningKey(dataDir: string, origin?: string): Promise<LogKeys> {
  const dir = new FsLayout(dataDir).keysDir;
  const file = path.join(dir, SIGNING_KEY);
  let skey = (await readFileIfExists(file))?.toString("utf8").trim();
  if (skey === undefined) {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const generated = generateNoteKey(origin ?? defaultOrigin());
    await writeFileAtomic(file, generated.signerKey + "\n", 0o600);
    await writeFileAtomic(path.join(dir, VERIFIER_KEY), generated.verifierKey + "\n", 0o644);
    skey = generated.signerKey;
  }
  // The keyring checks verifier.key against signing.key and follows a key rotation (src/keys/).
  const keys = await Keyring.load(dir);
  if (origin !== undefined && origin !== keys.origin) {
    throw new LogError(
      "invalid",
      `${dataDir}: the log's origin is "${keys.origin}"; it cannot be changed to "${origin}"`,
    );
  }
  return keys;
}

/** The verifier key string of the log in dataDir (public; safe to print and share). */
export async function readVerifierKey(dataDir: string): Promise<string> {
  const file = keyFile(dataDir, VERIFIER_KEY);
  const text = await readFileIfExists(file);
  if (text === null)
    throw new LogError("corrupt", `${file}: missing (is ${dataDir} a kubetrail data directory?)`);
  return text.toString("utf8").trim();
}

/**
 * Writes the verifier key of a log whose signing key is elsewhere (a mirror's copy), so the
 * read commands (query, history, status) open the directory like a log's own.
 */
export async function writeVerifierKey(dataDir: string, verifierKey: string): Promise<void> {
  await fsp.mkdir(new FsLayout(dataDir).keysDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(keyFile(dataDir, VERIFIER_KEY), verifierKey + "\n", 0o644);
}

/** The per-log redaction key, or null when the log has none (never creates one). */
export async function readRedactionKey(dataDir: string): Promise<Buffer | null> {
  const file = keyFile(dataDir, REDACTION_KEY);
  const existing = await readFileIfExists(file);
  if (existing === null) return null;
  const key = Buffer.from(existing.toString("utf8").trim(), "base64");
  if (key.length !== 32) throw new LogError("corrupt", `${file}: not a 32-byte base64 key`);
  return key;
}

/** The per-log secret for HMAC tags of redacted values: 32 random bytes, created on first use. */
export async function loadOrCreateRedactionKey(dataDir: string): Promise<Buffer> {
  const existing = await readRedactionKey(dataDir);
  if (existing !== null) return existing;
  const file = keyFile(dataDir, REDACTION_KEY);
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  await writeFileAtomic(file, key.toString("base64") + "\n", 0o600);
  return key;
}
