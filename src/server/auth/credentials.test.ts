import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createCa, issueCert } from "../certs.js";
import { caFingerprints, subjectNames, tokenDigest, tokenMatches } from "./credentials.js";

describe("client certificates as the apiserver reads them", () => {
  it("takes the user from CN and a group from each O", async () => {
    const cluster = await createCa("cluster CA");
    const bob = await issueCert(cluster, {
      commonName: "bob",
      organizations: ["team-a-devs", "system:masters"],
      usage: "client",
    });
    expect(subjectNames(new X509Certificate(bob.certPem))).toEqual({
      commonName: "bob",
      organizations: ["team-a-devs", "system:masters"],
    });
    const other = await createCa("ingest CA");
    expect(caFingerprints(cluster.certPem + other.certPem)).toEqual(
      new Set([
        new X509Certificate(cluster.certPem).fingerprint256,
        new X509Certificate(other.certPem).fingerprint256,
      ]),
    );
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
