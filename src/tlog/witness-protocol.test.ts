import { describe, expect, it } from "vitest";
import { cosignatureTime } from "./cosignature.js";
import { parseCheckpoint } from "./checkpoint.js";
import { signatureBytes, splitNote } from "./note.js";
import {
  formatAddCheckpointRequest,
  formatCosignatureResponse,
  formatSizeBody,
  parseAddCheckpointRequest,
  parseCosignatureResponse,
  parseSizeBody,
} from "./witness-protocol.js";

// The example request body of c2sp.org/tlog-witness, byte for byte.
const SPEC_REQUEST = [
  "old 20852014",
  "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=",
  "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=",
  "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=",
  "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=",
  "",
  "example.com/behind-the-sofa",
  "20852163",
  "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
  "",
  "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=",
  "— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=",
  "",
].join("\n");

// The example cosigned checkpoint of c2sp.org/tlog-cosignature (its cosignature line).
const SPEC_COSIGNATURE =
  "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

describe("tlog-witness add-checkpoint bodies", () => {
  it("parses the spec's example request and formats it back byte for byte", () => {
    const req = parseAddCheckpointRequest(SPEC_REQUEST);
    expect(req.oldSize).toBe(20852014);
    expect(req.proof).toHaveLength(4);
    const cp = parseCheckpoint(splitNote(req.checkpoint).text);
    expect(cp).toMatchObject({ origin: "example.com/behind-the-sofa", size: 20852163 });
    expect(splitNote(req.checkpoint).signatures).toHaveLength(2);
    expect(formatAddCheckpointRequest(req)).toBe(SPEC_REQUEST);
  });

  it("parses a request from size 0 with no proof", () => {
    const body =
      "old 0\n\nexample.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— example.com/log AAAAAQ==\n";
    const req = parseAddCheckpointRequest(body);
    expect(req).toMatchObject({ oldSize: 0, proof: [] });
    expect(req.checkpoint.startsWith("example.com/log\n0\n")).toBe(true);
  });

  it.each([
    ["no blank line", "old 1\nAAAA\n"],
    ["no old line", "new 1\n\ncp\n"],
    ["a leading zero", "old 01\n\ncp\n"],
    ["a negative size", "old -1\n\ncp\n"],
    ["a short hash", "old 1\nAAAA\n\ncp\n"],
    ["non-canonical base64", "old 1\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaz=\n\ncp\n"],
    ["no checkpoint", "old 1\n\n"],
    ["64 proof lines", `old 1\n${"PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n".repeat(64)}\ncp\n`],
  ])("refuses %s", (_what, body) => {
    expect(() => parseAddCheckpointRequest(body)).toThrow(
      expect.objectContaining({ code: "malformed-request" }),
    );
  });

  it("reads the timestamp of the spec's example cosignature", () => {
    const [sig] = parseCosignatureResponse(SPEC_COSIGNATURE);
    expect(sig!.name).toBe("witness.example.com/w1");
    // The spec's example signed message says "time 1679315147".
    expect(cosignatureTime(signatureBytes(sig!))).toBe(1679315147);
    expect(formatCosignatureResponse([sig!])).toBe(SPEC_COSIGNATURE);
  });

  it("formats and parses the 409 size body strictly", () => {
    expect(parseSizeBody(formatSizeBody(20852163))).toBe(20852163);
    expect(() => parseSizeBody("12")).toThrow();
    expect(() => parseSizeBody("012\n")).toThrow();
  });
});
