// X.509 material for kubetrail's TLS: a CA, serving certificates (SANs from host names and IPs)
// and client certificates (for the apiserver's webhook). ECDSA P-256 via WebCrypto; no openssl.
import { webcrypto } from "node:crypto";
import { isIP } from "node:net";
import * as x509 from "@peculiar/x509";

type KeyPair = webcrypto.CryptoKeyPair;

// x509's provider type is the DOM Crypto, which Node's webcrypto implements but TypeScript cannot see without the DOM lib.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = {
  name: "ECDSA",
  namedCurve: "P-256",
  hash: "SHA-256",
};
const DAY_MS = 24 * 60 * 60 * 1000;

export interface Issuer {
  cert: x509.X509Certificate;
  keys: KeyPair;
}

export interface IssuedPem {
  certPem: string;
  keyPem: string;
}

async function newKeys(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as KeyPair;
}

/** PEM text ending in a newline, so files and bundles concatenate cleanly. */
function pem(text: string): string {
  return text.endsWith("\n") ? text : text + "\n";
}

async function keyPem(keys: KeyPair): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return pem(x509.PemConverter.encode(der, "PRIVATE KEY"));
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  // Back-dated a little so a client whose clock is slightly behind still accepts it.
  const now = Date.now();
  return { notBefore: new Date(now - 5 * 60 * 1000), notAfter: new Date(now + days * DAY_MS) };
}

/** Escapes a value for an X.500 name string (RFC 4514). */
function dnValue(v: string): string {
  return v.replace(/([,+"\\<>;=])/g, "\\$1");
}

/** A new self-signed CA that may only sign end-entity certificates (pathLen 0). */
export async function createCa(commonName: string, days = 3650): Promise<Issuer & IssuedPem> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${dnValue(commonName)}`,
    keys,
    signingAlgorithm: ALG,
    ...validity(days),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys, certPem: pem(cert.toString("pem")), keyPem: await keyPem(keys) };
}

export interface LeafRequest {
  commonName: string;
  /** Host names and IP addresses for the subjectAltName (serving certificates). */
  hosts?: string[];
  /** Groups for client certificates: the O= attributes, as Kubernetes reads them. */
  organizations?: string[];
  usage: "server" | "client";
  days?: number;
  /** An explicit validity period instead of `days` from now (tests of expired certificates). */
  validity?: { notBefore: Date; notAfter: Date };
}

/** A certificate for `req` signed by `issuer`. */
export async function issueCert(issuer: Issuer, req: LeafRequest): Promise<IssuedPem> {
  const keys = await newKeys();
  const names = (req.hosts ?? []).map((h) => ({
    type: isIP(h) ? ("ip" as const) : ("dns" as const),
    value: h,
  }));
  const subject = [
    `CN=${dnValue(req.commonName)}`,
    ...(req.organizations ?? []).map((o) => `O=${dnValue(o)}`),
  ].join(", ");
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([
      req.usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
    ]),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  const cert = await x509.X509CertificateGenerator.create({
    subject,
    issuer: issuer.cert.subject,
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: ALG,
    ...(req.validity ?? validity(req.days ?? 825)),
    extensions,
  });
  return { certPem: pem(cert.toString("pem")), keyPem: await keyPem(keys) };
}
