import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createCa, issueCert } from "./certs.js";

describe("certificates", () => {
  it("issues a serving certificate the CA verifies, with the requested SANs and usage", async () => {
    const ca = await createCa("test CA");
    const leaf = await issueCert(ca, {
      commonName: "kubetrail",
      hosts: ["kubetrail.example", "10.1.2.3"],
      usage: "server",
    });
    const caCert = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(leaf.certPem);
    expect(caCert.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkHost("kubetrail.example")).toBe("kubetrail.example");
    expect(cert.checkHost("other.example")).toBeUndefined();
    expect(cert.checkIP("10.1.2.3")).toBe("10.1.2.3");
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(leaf.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it("puts groups of a client certificate in O= as Kubernetes reads them", async () => {
    const ca = await createCa("test CA");
    const leaf = await issueCert(ca, {
      commonName: "kube-apiserver",
      organizations: ["system:masters"],
      usage: "client",
    });
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.subject).toBe("CN=kube-apiserver\nO=system:masters");
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
  });
});
