// End to end: Secret traffic recorded at RequestResponse goes through the ingest transform
// into a real log on disk; afterwards no file of the data directory holds a secret value,
// raw or base64, while the tags in the stored events still confirm each value.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createIngestTransform } from "../src/audit/ingest-transform.js";
import { parsePolicyText } from "../src/audit/policy/load.js";
import { tagMatches } from "../src/audit/redact/tag.js";
import { KUBETRAIL_ANNOTATIONS, type AuditEvent } from "../src/audit/types.js";
import { encodeEvent } from "../src/ingest/normalize.js";
import { openFsLog } from "../src/store/fs/storage.js";
import { loadOrCreateRedactionKey } from "../src/store/fs/keys.js";
import { tempDir } from "./fixtures/audit/temp-dir.js";
import { fileContents, filesUnder, leakForms } from "./fixtures/leaks.js";
import { b64, SECRET_EVENTS, SECRET_VALUES } from "./fixtures/policy/secret-events.js";

const RR_POLICY = parsePolicyText(
  'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n  resources:\n  - group: ""\n- level: Metadata\n',
  "inline",
);

describe.each([
  ["without a policy", undefined],
  ["with a RequestResponse policy", RR_POLICY],
])("redaction at ingest %s", (_name, policy) => {
  it("stores the Secret events with no secret byte anywhere in the data directory", async () => {
    const dir = tempDir("kubetrail-redaction-");
    // Control: every value is really in the input, so its absence below means something.
    const input = JSON.stringify(SECRET_EVENTS);
    for (const v of SECRET_VALUES) expect(input.includes(v) || input.includes(b64(v)), v).toBe(true);
    const key = await loadOrCreateRedactionKey(dir);
    const transform = createIngestTransform({ policy, redaction: { key } });
    const stored = SECRET_EVENTS.map((e) => transform(e)).filter((e): e is AuditEvent => e !== null);
    expect(stored).toHaveLength(SECRET_EVENTS.length);

    const log = await openFsLog(dir, { integrateIntervalMs: 50 });
    const entries: AuditEvent[] = [];
    try {
      await log.append(stored.map(encodeEvent));
      await log.waitIntegrated(stored.length);
      for await (const e of log.readEntries(0, stored.length)) {
        entries.push(JSON.parse(Buffer.from(e.data!).toString("utf8")) as AuditEvent);
      }
    } finally {
      await log.close();
    }

    const files = filesUnder(dir);
    expect(files.length).toBeGreaterThan(3); // keys, checkpoint, tiles, entry bundle
    let entryBytes = 0;
    for (const file of files) {
      const bytes = fileContents(file);
      if (file.includes(`${path.sep}entries${path.sep}`)) entryBytes += bytes.length;
      for (const value of SECRET_VALUES) {
        for (const [, form] of leakForms(value))
          expect(bytes.includes(form), `${value} in ${path.relative(dir, file)}`).toBe(false);
      }
    }
    expect(entryBytes).toBeGreaterThan(0);

    // The log still says which values were masked, and the tags confirm them.
    expect(entries.map((e) => e.auditID)).toEqual(SECRET_EVENTS.map((e) => e.auditID));
    for (const e of entries) expect(e.annotations?.[KUBETRAIL_ANNOTATIONS.redacted], e.auditID).toBeTruthy();
    if (policy) for (const e of entries) expect(e.annotations?.[KUBETRAIL_ANNOTATIONS.policyRule]).toBe("0");
    const get = entries.find((e) => e.auditID === "get-1")!;
    const tag = (get.responseObject as { data: { password: string } }).data.password;
    expect(tagMatches(key, Buffer.from("hunter2-db-password"), tag)).toBe(true);
    const token = entries.find((e) => e.auditID === "token-1")!;
    const jwt = (token.responseObject as { status: { token: string } }).status.token;
    expect(tagMatches(key, Buffer.from("eyJhbGciOiJSUzI1NiJ9.token-request-jwt.sig"), jwt)).toBe(true);
  });
});
