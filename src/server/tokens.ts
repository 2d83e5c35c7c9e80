// Bearer tokens: read from operator-supplied files, or generated into the data directory on first
// start so the server is never open by default. Token values are never logged.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { readFileIfExists, writeFileAtomic } from "../store/durable-file.js";
import { ConfigError } from "./config.js";

/** Tokens from a file: one per line; blank lines and lines starting with # are ignored. */
export async function readTokenFile(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new ConfigError(
      `${file}: cannot read token file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { cause: err },
    );
  }
  const tokens = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  if (tokens.length === 0) throw new ConfigError(`${file}: no token in file`);
  tokens.forEach((t, i) => {
    if (/\s/.test(t) || t.length < 16)
      throw new ConfigError(`${file}: token ${i + 1} is shorter than 16 characters or contains spaces`);
  });
  return tokens;
}

/** The token stored in `file`, created (32 random bytes, base64url, mode 0600) when missing. */
export async function loadOrCreateToken(file: string): Promise<{ token: string; created: boolean }> {
  const existing = await readFileIfExists(file);
  if (existing !== null) {
    const token = existing.toString("utf8").trim();
    if (token.length < 16)
      throw new ConfigError(`${file}: stored token is too short; delete the file to generate a new one`);
    return { token, created: false };
  }
  const token = randomBytes(32).toString("base64url");
  await writeFileAtomic(file, token + "\n", 0o600);
  return { token, created: true };
}
