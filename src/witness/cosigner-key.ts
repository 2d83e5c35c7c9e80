// A witness's or mirror's cosignature/v1 key under DATA/keys/: the signer key (mode 0600, never
// logged) and its verifier key, which logs and auditors configure to trust its cosignatures.
import { promises as fsp } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { readFileIfExists, writeFileAtomic } from "../store/durable-file.js";
import { CosignatureSigner, generateCosignatureKey } from "../tlog/index.js";
import { WitnessError } from "./errors.js";

/**
 * Loads the cosigner key `<role>.key` in DATA/keys/, creating it on first use named `name`
 * (default: a unique `<role>.kubetrail.local/<hex>`). The name is fixed at creation. Returns
 * the signer and its key text (for threads that sign too; never to be logged).
 */
export async function loadOrCreateCosignerKey(
  dataDir: string,
  role: "witness" | "mirror",
  name?: string,
): Promise<{ signer: CosignatureSigner; signerKey: string }> {
  const dir = path.join(dataDir, "keys");
  const file = path.join(dir, `${role}.key`);
  let skey = (await readFileIfExists(file))?.toString("utf8").trim();
  if (skey === undefined) {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    let generated;
    try {
      generated = generateCosignatureKey(name ?? `${role}.kubetrail.local/${randomBytes(6).toString("hex")}`);
    } catch (err) {
      throw new WitnessError("config", `--name: ${(err as Error).message}`, { cause: err });
    }
    await writeFileAtomic(file, generated.signerKey + "\n", 0o600);
    await writeFileAtomic(path.join(dir, `${role}.vkey`), generated.verifierKey + "\n", 0o644);
    skey = generated.signerKey;
  }
  let signer: CosignatureSigner;
  try {
    signer = CosignatureSigner.fromKey(skey);
  } catch (err) {
    throw new WitnessError("corrupt", `${file}: ${(err as Error).message}`, { cause: err });
  }
  if (name !== undefined && name !== signer.name)
    throw new WitnessError(
      "config",
      `${file}: this ${role} is named "${signer.name}"; it cannot be renamed "${name}"`,
    );
  return { signer, signerKey: skey };
}
