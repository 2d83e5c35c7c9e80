// The certificates `apiserver-config` keeps in its directory, read back on a re-run: an
// existing pairing (the apiserver's webhook kubeconfig, kubetrail's --client-ca) stays valid
// as long as its CA and keys stay, so they are reused and only what is missing, about to
// expire or no longer fitting is issued again.
import { createPrivateKey, createPublicKey, webcrypto } from "node:crypto";
import { isIP } from "node:net";
import * as x509 from "@peculiar/x509";
import type { Issuer } from "../server/certs.js";
import { CliError } from "./errors.js";

const DAY_MS = 24 * 60 * 60 * 1000;

/** Why an existing certificate cannot be used as it is; undefined when it can. */
export type Unfit = string | undefined;

export interface LoadedCert {
  cert: x509.X509Certificate;
  notAfter: Date;
}

/** A certificate or key file that cannot be used as it is (apiserver-config says how to replace it). */
export class PkiFileError extends CliError {
  constructor(
    readonly file: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${reason}`, 1, options);
    this.name = "PkiFileError";
  }
}

/** Parses a PEM certificate; a PkiFileError names the file when it is not one. */
export function parseCert(pem: string, file: string): LoadedCert {
  try {
    const cert = new x509.X509Certificate(pem);
    return { cert, notAfter: cert.notAfter };
  } catch (err) {
    throw new PkiFileError(file, "not a PEM certificate", { cause: err });
  }
}

function spkiOfKey(keyPem: string, file: string): Buffer {
  try {
    return createPublicKey(createPrivateKey(keyPem)).export({ type: "spki", format: "der" });
  } catch (err) {
    throw new PkiFileError(file, "not a PEM private key", { cause: err });
  }
}

/** True when the private key in `keyPem` belongs to `cert`. */
export function keyMatches(cert: x509.X509Certificate, keyPem: string, keyFile: string): boolean {
  return spkiOfKey(keyPem, keyFile).equals(Buffer.from(cert.publicKey.rawData));
}

/** The CA as an issuer of new certificates: its certificate and its (ECDSA P-256) key. */
export async function loadIssuer(
  certPem: string,
  keyPem: string,
  files: { cert: string; key: string },
): Promise<Issuer> {
  const { cert } = parseCert(certPem, files.cert);
  if (!keyMatches(cert, keyPem, files.key)) {
    throw new PkiFileError(files.key, `is not the key of ${files.cert}`);
  }
  const der = createPrivateKey(keyPem).export({ type: "pkcs8", format: "der" });
  const alg = { name: "ECDSA", namedCurve: "P-256" };
  try {
    const privateKey = await webcrypto.subtle.importKey("pkcs8", der, alg, true, ["sign"]);
    const publicKey = await cert.publicKey.export(alg, ["verify"]);
    return { cert, keys: { privateKey, publicKey } as webcrypto.CryptoKeyPair };
  } catch (err) {
    throw new PkiFileError(files.key, "is not an ECDSA P-256 key (the kind apiserver-config makes)", {
      cause: err,
    });
  }
}

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** Why a certificate needs renewing: expired, or expiring within `renewBeforeDays`. */
export function expiry(c: LoadedCert, renewBeforeDays: number, now = Date.now()): Unfit {
  if (c.notAfter.getTime() <= now) return `expired on ${day(c.notAfter)}`;
  if (c.notAfter.getTime() - now < renewBeforeDays * DAY_MS) return `expires on ${day(c.notAfter)}`;
  return undefined;
}

export function validUntil(c: LoadedCert): string {
  return `valid until ${day(c.notAfter)}`;
}

/** Why a leaf certificate does not fit any more; undefined when it can be kept. */
export async function leafUnfit(
  leaf: LoadedCert,
  ca: x509.X509Certificate,
  want: { commonName: string; hosts?: string[] },
  renewBeforeDays: number,
): Promise<Unfit> {
  const signed = await leaf.cert.verify({ publicKey: ca.publicKey, signatureOnly: true }).catch(() => false);
  if (!signed) return "not signed by the CA in ca.crt";
  const cn = leaf.cert.subjectName.getField("CN")[0];
  if (cn !== want.commonName)
    return `its common name is ${JSON.stringify(cn ?? "")}, not ${JSON.stringify(want.commonName)}`;
  if (want.hosts) {
    const san = leaf.cert.getExtension(x509.SubjectAlternativeNameExtension);
    const names = new Set(
      (san?.names.items ?? []).filter((n) => n.type === "dns" || n.type === "ip").map((n) => n.value),
    );
    const missing = want.hosts.filter((h) => !names.has(isIP(h) ? h : h.toLowerCase()) && !names.has(h));
    if (missing.length > 0) return `does not cover ${missing.join(", ")}`;
  }
  return expiry(leaf, renewBeforeDays);
}
