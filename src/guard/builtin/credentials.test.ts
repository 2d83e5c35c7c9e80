import { describe, expect, it } from "vitest";
import {
  checkConfigMapCredentials,
  checkEnvCredentials,
  DEFAULT_CREDENTIAL_SETTINGS,
} from "./credentials.js";
import { inWorkload } from "../../../test/fixtures/guard/workloads.js";
import { podTemplateOf, POD_KINDS } from "./pod-templates.js";

const AWS_KEY = "AKIAIOSFODNN7EXAMPLE";
const PRIVATE_KEY =
  "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmwIDAQABAoIBAQCD\n-----END RSA PRIVATE KEY-----";
const JWT =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

describe("credentials in ConfigMaps", () => {
  it("finds AWS keys, private keys, JWTs and named passwords, naming the key, never the value", () => {
    const v = checkConfigMapCredentials(
      {
        kind: "ConfigMap",
        data: {
          AWS_ACCESS_KEY_ID: AWS_KEY,
          "tls.key": PRIVATE_KEY,
          token: JWT,
          DB_PASSWORD: "s3cr3t-Pa55word!",
          LOG_LEVEL: "debug",
          PASSWORD_PLACEHOLDER: "${DB_PASSWORD}",
        },
        binaryData: {
          blob: Buffer.from(`aws_key=${AWS_KEY}`).toString("base64"),
          png: Buffer.from([0x89, 0x50, 0xff, 0xfe, 0x00]).toString("base64"),
        },
      },
      DEFAULT_CREDENTIAL_SETTINGS,
    );
    expect(v.map((x) => x.field)).toEqual([
      "data.AWS_ACCESS_KEY_ID",
      'data["tls.key"]',
      "data.token",
      "data.DB_PASSWORD",
      "binaryData.blob",
    ]);
    for (const x of v) {
      expect(x.message).not.toContain(AWS_KEY);
      expect(x.message).not.toContain("s3cr3t");
      expect(x.message).not.toContain(JWT.slice(0, 20));
    }
  });
  it("byName: false keeps only values whose own format proves them", () => {
    const v = checkConfigMapCredentials(
      { data: { DB_PASSWORD: "s3cr3t-Pa55word!", k: AWS_KEY } },
      { ...DEFAULT_CREDENTIAL_SETTINGS, byName: false },
    );
    expect(v.map((x) => x.field)).toEqual(["data.k"]);
  });
  it("configMaps: false turns it off", () => {
    expect(
      checkConfigMapCredentials(
        { data: { k: AWS_KEY } },
        { ...DEFAULT_CREDENTIAL_SETTINGS, configMaps: false },
      ),
    ).toEqual([]);
  });
});

describe.each(POD_KINDS)("credentials in container env values (%s)", (kind) => {
  it("reports env[i].value of each container, and not valueFrom", () => {
    const spec = {
      containers: [
        {
          name: "app",
          env: [
            { name: "LOG_LEVEL", value: "info" },
            { name: "UPSTREAM", value: JWT },
            { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "db", key: "password" } } },
          ],
        },
      ],
      initContainers: [{ name: "init", env: [{ name: "AWS_ACCESS_KEY_ID", value: AWS_KEY }] }],
    };
    const object = inWorkload(kind, spec);
    const t = podTemplateOf(kind, object)!;
    const v = checkEnvCredentials(t, DEFAULT_CREDENTIAL_SETTINGS);
    expect(v.map((x) => x.field)).toEqual([
      `${t.specPath}.containers[0].env[1].value`,
      `${t.specPath}.initContainers[0].env[0].value`,
    ]);
    expect(v[0]!.message).toMatch(/container "app" env UPSTREAM holds a credential \(jwt\)/);
  });
});
