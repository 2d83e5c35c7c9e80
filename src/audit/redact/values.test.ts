import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { plantedAssignments, plantedSecrets } from "../../../bench/gen/secrets.js";
import { generateEvents, toEventList } from "../../../bench/gen/events.js";
import { receiveEventList } from "../../ingest/normalize.js";
import { SecretScanner } from "../../secrets/index.js";
import type { AuditEvent } from "../types.js";
import { mayHoldCredential, redactValues } from "./values.js";

const scanner = new SecretScanner();
const key = Buffer.alloc(32, 7);

/** An event in an EventList body as a receive worker sees it: parsed, with its raw bytes and member names. */
function received(event: AuditEvent) {
  const r = receiveEventList(Buffer.from(JSON.stringify(toEventList([event]))));
  return { event: r.events[0]!, raw: r.raws![0]! };
}

describe("the pre-filter over the members redaction looks at", () => {
  it("passes every event in which redaction by value masks something (property, seeded)", () => {
    const seed = 19_003;
    console.info(`member pre-filter property seed ${seed}`);
    const planted = [...plantedSecrets(seed), ...plantedAssignments(seed)];
    const base = [...generateEvents({ seed, count: 50 })];
    // Places a credential travels in, and names of skipped fields used deeper down.
    const places: ((e: AuditEvent, name: string, value: string) => AuditEvent)[] = [
      (e, n, v) => ({ ...e, requestURI: `/api/v1/configmaps?${n}=${encodeURIComponent(v)}` }),
      (e, n, v) => ({ ...e, annotations: { ...e.annotations, [`example.com/${n}`]: v } }),
      (e, n, v) => ({ ...e, requestObject: { kind: "ConfigMap", data: { [n]: v } } }),
      (e, n, v) => ({ ...e, responseObject: { spec: { env: [{ name: n, value: v }] } } }),
      (e, _n, v) => ({ ...e, responseStatus: { metadata: {}, code: 400, message: `bad: ${v}` } }),
      (e, n, v) => ({ ...e, requestObject: { user: { [n]: v }, userAgent: v, objectRef: v } }),
    ];
    let masked = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: planted.length - 1 }),
        fc.integer({ min: 0, max: places.length - 1 }),
        fc.integer({ min: 0, max: base.length - 1 }),
        (which, where, at) => {
          const p = planted[which]!;
          const event = places[where]!(base[at]!, p.key ?? "config", p.value);
          const { event: parsed, raw } = received(event);
          expect(raw.members?.length).toBeGreaterThan(10);
          if (redactValues(parsed, scanner, key).paths.length === 0) return;
          masked++;
          expect(mayHoldCredential(scanner, raw.bytes, raw.members)).toBe(true);
        },
      ),
      { seed, numRuns: 1000 },
    );
    // The property held over events that did hold credentials, not vacuously.
    expect(masked).toBeGreaterThan(500);
  });

  it("does not read the fields redaction skips: user, user agent, object reference", () => {
    const [event] = [...generateEvents({ seed: 5, count: 1 })];
    const aws = "AKIAIOSFODNN7EXAMPLE";
    const sent: AuditEvent = {
      ...event!,
      requestURI: "/api/v1/pods",
      userAgent: `tool/1.0 ${aws}`,
      user: { username: "alice", extra: { note: [aws] } },
      objectRef: { resource: "pods", name: aws.toLowerCase() },
      annotations: {},
      requestObject: undefined,
      responseObject: undefined,
    };
    const { event: parsed, raw } = received(sent);
    expect(scanner.mayContainSecrets(raw.bytes)).toBe(true);
    expect(mayHoldCredential(scanner, raw.bytes, raw.members)).toBe(false);
    expect(redactValues(parsed, scanner, key).paths).toEqual([]);
    // The same credential in the request URI is looked at, and masked.
    const { event: inUri, raw: uriRaw } = received({ ...sent, requestURI: `/api/v1/pods?k=${aws}` });
    expect(mayHoldCredential(scanner, uriRaw.bytes, uriRaw.members)).toBe(true);
    expect(redactValues(inUri, scanner, key).paths).toEqual(["requestURI"]);
  });

  it("reads the whole text when the member names are unknown or spelled with escapes", () => {
    const aws = "AKIAIOSFODNN7EXAMPLE";
    const compact = Buffer.from(`{"userAgent":"x","requestObject":{"k":"${aws}"}}`);
    expect(mayHoldCredential(scanner, compact)).toBe(true);
    // Names in escapes are not recognised as skipped: their value is read.
    const escaped = Buffer.from(`{"user\\u0041gent":"x","us\\u0065r":"${aws}"}`);
    expect(mayHoldCredential(scanner, escaped, [0, 18])).toBe(true);
  });
});
