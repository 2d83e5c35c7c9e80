import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { apiserverEvents } from "../../test/fixtures/audit/events.js";
import { tempDir } from "../../test/fixtures/audit/temp-dir.js";
import { SECRET_EVENTS, SECRET_VALUES, b64 } from "../../test/fixtures/policy/secret-events.js";
import { createIngestTransform } from "../audit/ingest-transform.js";
import type { AuditEvent } from "../audit/types.js";
import { openLogIn } from "../../test/fixtures/memory-log.js";
import type { AuditLog } from "../store/types.js";
import { Deduper } from "./dedupe.js";
import { encodeEvent, receiveEventLine, receiveEventList } from "./normalize.js";
import { createPipeline } from "./pipeline.js";
import { countKeys, eventListItems, EVENT_TYPE_META, scanComposite } from "./sent-bytes.js";

/** Go's encoding/json, as the apiserver's serializer uses it: "<", ">", "&", U+2028/9 escaped. */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
  );
}

/** An item as the webhook backend writes it: Go escaping, and an int64 that a double cannot hold. */
const ITEM_TEXT = goJson({
  level: "RequestResponse",
  auditID: "7c1e9a52-3f0b-4d5e-9a11-0c2b3d4e5f60",
  stage: "ResponseComplete",
  requestURI: "/api/v1/namespaces/default/configmaps?fieldSelector=a%3Db&limit=500",
  verb: "create",
  user: { username: "alice<ops>", groups: ["system:authenticated"] },
  sourceIPs: ["10.0.0.1"],
  objectRef: { resource: "configmaps", namespace: "default", name: "x" },
  requestReceivedTimestamp: "2026-11-21T05:58:25.096042Z",
  stageTimestamp: "2026-11-21T05:58:25.098765Z",
  annotations: { "authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "a & b" },
}).replace('"objectRef"', '"requestObject":{"data":{"n":"1"},"size":12345678901234567891},"objectRef"');
const LINE_TEXT = EVENT_TYPE_META + ITEM_TEXT.slice(1);

const body = (items: string[], head = '"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{}') =>
  Buffer.from(`{${head},"items":[${items.join(",")}]}`);

describe("scanning the bytes as sent", () => {
  it("finds each item's extent, compactness and member names, strings with escaped quotes included", () => {
    const tricky = '{"a":"x\\"}],{\\\\","b":[1,{"c":"\\\\"}],"d":{}}';
    const b = Buffer.from(`{"kind":"EventList","items":[${tricky}, {"e":1, "f":2}],"z":"]"}`);
    const scan = eventListItems(b)!;
    expect(scan.topLevelKeys).toBe(3);
    expect(scan.items.map((s) => b.subarray(s.start, s.end).toString())).toEqual([tricky, '{"e":1, "f":2}']);
    expect(scan.items.map((s) => [s.compact, s.keys])).toEqual([
      [true, 4],
      [false, 2],
    ]);
    expect(countKeys(JSON.parse(tricky))).toBe(4);
    // Where the top-level names start: only for a compact item, where each name is its member's start.
    expect(scan.items[0]!.members).toEqual([1, 17, 36]);
    expect([1, 17, 36].map((at) => tricky.slice(at, at + 3))).toEqual(['"a"', '"b"', '"d"']);
    expect(scan.items[1]!.members).toBeUndefined();
  });

  it("declines layouts it cannot read for certain", () => {
    expect(eventListItems(Buffer.from('{"kind":"EventList","it\\u0065ms":[{"a":1}]}'))).toBeUndefined();
    expect(eventListItems(Buffer.from('{"items":[1,{"a":1}]}'))).toBeUndefined();
    expect(eventListItems(Buffer.from('{"items":{"a":1}}'))).toBeUndefined();
    expect(scanComposite(Buffer.from('{"a":"unterminated'), 0)).toBeUndefined();
    expect(scanComposite(Buffer.from('{"a":{}'), 0)).toBeUndefined();
  });
});

describe("entries as sent", () => {
  it("stores a webhook item and the same event's log-file line as the same bytes: the line", () => {
    const fromList = receiveEventList(body([ITEM_TEXT]));
    const fromLine = receiveEventLine(LINE_TEXT, "audit.log:1", Buffer.from(LINE_TEXT));
    expect(Buffer.from(fromList.entries[0]!).toString()).toBe(LINE_TEXT);
    expect(Buffer.from(fromLine.entry!).toString()).toBe(LINE_TEXT);
    // The parsed events are the same, unescaped; a re-encoding would have changed the bytes.
    expect(fromList.events[0]).toEqual(fromLine.event);
    expect(fromList.events[0]!.annotations!["authorization.k8s.io/reason"]).toBe("a & b");
    expect(LINE_TEXT).toContain("12345678901234567891");
    expect(Buffer.from(encodeEvent(fromLine.event)).toString()).not.toBe(LINE_TEXT);
  });

  it("leaves to re-encoding what cannot be stored as sent", () => {
    const item = JSON.parse(ITEM_TEXT) as Record<string, unknown>;
    const pretty = JSON.stringify(item, null, 2);
    const cases: [string, Buffer][] = [
      ["pretty-printed", body([pretty])],
      ["its own TypeMeta", body([JSON.stringify({ kind: "Event", apiVersion: "audit.k8s.io/v1", ...item })])],
      ["a nested name repeated", body([ITEM_TEXT.replace('"groups":', '"username":"mallory","groups":')])],
      [
        "a top-level name repeated",
        body([ITEM_TEXT], '"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]'),
      ],
      ["v1beta1", body([ITEM_TEXT], '"kind":"EventList","apiVersion":"audit.k8s.io/v1beta1"')],
    ];
    for (const [what, b] of cases) {
      const r = receiveEventList(b);
      expect(r.events, what).toHaveLength(1);
      expect(r.entries[0], what).toBeUndefined();
    }
    const line = (text: string) => receiveEventLine(text, "f:1", Buffer.from(text)).entry;
    expect(line(LINE_TEXT + " ")).toBeUndefined();
    expect(
      line(
        LINE_TEXT.replace(
          '"kind":"Event","apiVersion":"audit.k8s.io/v1"',
          '"apiVersion":"audit.k8s.io/v1","kind":"Event"',
        ),
      ),
    ).toBeUndefined();
    expect(line(LINE_TEXT.replace('"level"', '"kind":"Event","level"'))).toBeUndefined();
  });
});

describe("pathological nesting", () => {
  it("is bad input naming the item (rejected alone) or line, not a crash", () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const item = ITEM_TEXT.replace('"data":{"n":"1"}', `"data":${deep}`);
    const received = receiveEventList(body([item]));
    expect(received.events).toEqual([]);
    expect(received.rejected?.map((r) => r.error.message)).toEqual([
      "items[0]: too deeply nested to process",
    ]);
    const line = EVENT_TYPE_META + item.slice(1);
    expect(() => receiveEventLine(line, "audit.log:7", Buffer.from(line))).toThrow(
      /audit.log:7: too deeply nested/,
    );
  });
});

describe("the pipeline with entries as sent", () => {
  const logs: { log: AuditLog; deduper: Deduper }[] = [];
  afterEach(async () => {
    for (const o of logs.splice(0)) {
      await o.deduper.close();
      await o.log.close();
    }
  });

  async function pipelineWithRedaction() {
    const dir = tempDir("kt-sent-");
    const log = await openLogIn(dir, { integrateIntervalMs: 50 });
    const deduper = await Deduper.open(path.join(dir, "dedupe"), log);
    logs.push({ log, deduper });
    const transform = createIngestTransform({ redaction: { key: Buffer.alloc(32, 7) } });
    return { log, pipeline: createPipeline({ log, deduper, transform }) };
  }

  async function stored(log: AuditLog): Promise<string[]> {
    const out: string[] = [];
    for await (const e of log.readEntries(0, log.size())) out.push(Buffer.from(e.data!).toString());
    return out;
  }

  it("stores untouched events as sent, and re-encodes those redaction changed", async () => {
    const { log, pipeline } = await pipelineWithRedaction();
    const plain = apiserverEvents(3, { seed: 4 });
    // As webhook items: without the TypeMeta the fixtures carry.
    const secrets = SECRET_EVENTS.slice(0, 3).map(
      ({ kind: _k, apiVersion: _v, ...rest }) => rest as AuditEvent,
    );
    const items = [...plain, ...secrets].map(goJson);
    const { events, entries } = receiveEventList(body(items));
    expect(entries.filter((e) => e !== undefined)).toHaveLength(items.length);
    const r = await pipeline.ingest(events, entries);
    expect(r.stored).toBe(items.length);
    const lines = await stored(log);
    items.slice(0, plain.length).forEach((item, i) => expect(lines[i]).toBe(EVENT_TYPE_META + item.slice(1)));
    for (const line of lines.slice(plain.length)) {
      expect(SECRET_VALUES.filter((v) => line.includes(v) || line.includes(b64(v)))).toEqual([]);
      expect(line).toContain("kubetrail.dev/redacted");
    }
    // A repeat of the same bytes, through either path, is an identical duplicate.
    const again = receiveEventList(body(items));
    expect(await pipeline.ingest(again.events, again.entries)).toMatchObject({ stored: 0, duplicates: 6 });
    const asLine = EVENT_TYPE_META + items[0]!.slice(1);
    const fromFile = receiveEventLine(asLine, "f:1", Buffer.from(asLine));
    expect(await pipeline.ingest([fromFile.event], [fromFile.entry])).toMatchObject({ duplicates: 1 });
  });
});
