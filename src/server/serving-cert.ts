// The serving certificate `serve` uses when none is given: created once into DATA/tls/ (a CA
// that clients can pin, ca.crt, and tls.crt/tls.key signed by it). The CA key is not kept, so
// nothing on disk can mint further certificates.
import { promises as fsp } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { readFileIfExists, writeFileAtomic } from "../store/durable-file.js";
import { createCa, issueCert } from "./certs.js";

export interface ServingCert {
  cert: string;
  key: string;
  /** The CA file a client should trust. */
  caFile: string;
  created: boolean;
}

export async function loadOrCreateServingCert(
  dataDir: string,
  extraHosts: string[] = [],
): Promise<ServingCert> {
  const dir = path.join(dataDir, "tls");
  const certFile = path.join(dir, "tls.crt");
  const keyFile = path.join(dir, "tls.key");
  const caFile = path.join(dir, "ca.crt");
  const [cert, key] = await Promise.all([readFileIfExists(certFile), readFileIfExists(keyFile)]);
  if (cert !== null && key !== null)
    return { cert: cert.toString("utf8"), key: key.toString("utf8"), caFile, created: false };
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const hosts = [...new Set(["localhost", "127.0.0.1", "::1", hostname(), ...extraHosts])];
  const ca = await createCa("kubetrail self-signed CA");
  const leaf = await issueCert(ca, { commonName: "kubetrail", hosts, usage: "server" });
  await writeFileAtomic(caFile, ca.certPem, 0o644);
  await writeFileAtomic(keyFile, leaf.keyPem, 0o600);
  await writeFileAtomic(certFile, leaf.certPem + ca.certPem, 0o644);
  return { cert: leaf.certPem + ca.certPem, key: leaf.keyPem, caFile, created: true };
}
