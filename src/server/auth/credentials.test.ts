import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createCa, issueCert } from "../certs.js";
import { issuedBy, parseCaBundle, subjectNames, tokenDigest, tokenMatches } from "./credentials.js";

describe("client certificates as the apiserver reads them", () => {
  it("takes the user from CN and a group from each O, and tells which CA issued it", async () => {
    const cluster = await createCa("cluster CA");
    const other = await createCa("ingest CA");
    const bob = await issueCert(cluster, {
      commonName: "bob",
      organizations: ["team-a-devs", "system:masters"],
      usage: "client",
    });
    const cert = new X509Certificate(bob.certPem);
    expect(subjectNames(cert)).toEqual({
      commonName: "bob",
      organizations: ["team-a-devs", "system:masters"],
    });
    const cas = parseCaBundle(cluster.certPem + other.certPem);
    expect(cas).toHaveLength(2);
    expect(issuedBy(cert, parseCaBundle(cluster.certPem))).toBe(true);
    expect(issuedBy(cert, parseCaBundle(other.certPem))).toBe(false);
    expect(issuedBy(cert, cas)).toBe(true);
  });
});

describe("tokens", () => {
  it("match in constant time and are only ever kept as a digest", () => {
    expect(tokenMatches("a-token-of-twenty-chars", ["other-token-value-xx", "a-token-of-twenty-chars"])).toBe(
      true,
    );
    expect(tokenMatches("a-token-of-twenty-char", ["a-token-of-twenty-chars"])).toBe(false);
    expect(tokenDigest("secret-token")).toMatch(/^[0-9a-f]{64}$/);
    expect(tokenDigest("secret-token")).not.toContain("secret");
  });
});
