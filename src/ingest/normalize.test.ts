import { describe, expect, it } from "vitest";
import { IngestError } from "./errors.js";
import { encodeEvent, normalizeEvent, parseEventLine, parseEventList } from "./normalize.js";

// A webhook item exactly as the apiserver serialises it inside an EventList (no TypeMeta).
const webhookItem = {
  level: "Metadata",
  auditID: "1d0f3f2e-7a53-4a3b-9c55-2f8c2f4d9b10",
  stage: "ResponseComplete",
  requestURI: "/api/v1/namespaces/default/pods?limit=500",
  verb: "list",
  user: { username: "kubernetes-admin", groups: ["system:masters", "system:authenticated"] },
  sourceIPs: ["172.18.0.1"],
  userAgent: "kubectl/v1.31.0 (linux/amd64) kubernetes/9edcffc",
  objectRef: { resource: "pods", namespace: "default", apiVersion: "v1" },
  responseStatus: { metadata: {}, code: 200 },
  requestReceivedTimestamp: "2026-11-21T05:58:25.096042Z",
  stageTimestamp: "2026-11-21T05:58:25.098765Z",
  annotations: { "authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "" },
};

const expectedBytes =
  '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"1d0f3f2e-7a53-4a3b-9c55-2f8c2f4d9b10",' +
  '"stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods?limit=500","verb":"list",' +
  '"user":{"username":"kubernetes-admin","groups":["system:masters","system:authenticated"]},"sourceIPs":["172.18.0.1"],' +
  '"userAgent":"kubectl/v1.31.0 (linux/amd64) kubernetes/9edcffc","objectRef":{"resource":"pods","namespace":"default","apiVersion":"v1"},' +
  '"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-11-21T05:58:25.096042Z",' +
  '"stageTimestamp":"2026-11-21T05:58:25.098765Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}}';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof IngestError) return `${err.code}: ${err.message}`;
    throw err;
  }
  return "no error";
}

describe("normalisation", () => {
  it("gives a webhook item and a log-file line the same known bytes", () => {
    const fromWebhook = parseEventList(
      JSON.stringify({
        kind: "EventList",
        apiVersion: "audit.k8s.io/v1",
        metadata: {},
        items: [webhookItem],
      }),
    );
    // When an event has to be re-encoded, both shapes give the same known bytes (sent-bytes.test.ts
    // covers storing them as sent).
    const line = JSON.stringify({ kind: "Event", apiVersion: "audit.k8s.io/v1", ...webhookItem });
    const fromLine = parseEventLine(line, "audit.log:1");
    expect(Buffer.from(encodeEvent(fromWebhook[0]!)).toString()).toBe(expectedBytes);
    expect(Buffer.from(encodeEvent(fromLine)).toString()).toBe(expectedBytes);
  });

  it("encodes kind and apiVersion first wherever the event had them, as a log-file line has them", () => {
    // Normalising works in place and leaves the fields where they came.
    const line = JSON.stringify({ ...webhookItem, apiVersion: "audit.k8s.io/v1", kind: "Event" });
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(normalizeEvent(parsed, "audit.log:1")).toBe(parsed);
    expect(Buffer.from(encodeEvent(parseEventLine(line, "audit.log:1"))).toString()).toBe(expectedBytes);
  });

  it("converts v1beta1 by dropping metadata and timestamp and keeping the rest", () => {
    const beta = {
      ...webhookItem,
      metadata: { creationTimestamp: "2026-11-21T05:58:25Z" },
      timestamp: "2026-11-21T05:58:25Z",
    };
    const [ev] = parseEventList(
      JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1beta1", items: [beta] }),
    );
    expect(Buffer.from(encodeEvent(ev!)).toString()).toBe(expectedBytes);
  });

  it("keeps microsecond timestamps and unknown fields verbatim", () => {
    const ev = normalizeEvent({ ...webhookItem, futureField: { a: 1 } }, "items[0]", "audit.k8s.io/v1");
    expect(ev.requestReceivedTimestamp).toBe("2026-11-21T05:58:25.096042Z");
    expect(ev.futureField).toEqual({ a: 1 });
  });

  it("never produces a newline byte even when a field contains one", () => {
    const ev = normalizeEvent(
      { ...webhookItem, requestObject: { data: "a\nb" } },
      "items[0]",
      "audit.k8s.io/v1",
    );
    expect(Buffer.from(encodeEvent(ev)).includes(0x0a)).toBe(false);
  });

  it("keeps a __proto__ key as a plain field", () => {
    const raw = JSON.parse(
      `{"__proto__":{"polluted":true},${JSON.stringify(webhookItem).slice(1)}`,
    ) as unknown;
    const ev = normalizeEvent(raw, "items[0]", "audit.k8s.io/v1");
    expect(Object.getPrototypeOf(ev)).toBe(Object.prototype);
    expect(JSON.stringify(ev)).toContain('"__proto__":{"polluted":true}');
  });

  it("names the item and field of bad input", () => {
    const list = (items: unknown[], apiVersion = "audit.k8s.io/v1") =>
      JSON.stringify({ kind: "EventList", apiVersion, items });
    expect(codeOf(() => parseEventList("{not json"))).toMatch(/^not_json: body is not JSON/);
    expect(codeOf(() => parseEventList('{"kind":"Event","apiVersion":"audit.k8s.io/v1"}'))).toBe(
      'wrong_kind: kind "Event" is not EventList',
    );
    expect(codeOf(() => parseEventList(list([], "audit.k8s.io/v2")))).toMatch(
      /^wrong_api_version: EventList: apiVersion "audit.k8s.io\/v2"/,
    );
    const { auditID: _a, ...noID } = webhookItem;
    expect(codeOf(() => parseEventList(list([webhookItem, noID])))).toBe(
      "invalid_event: items[1]: field auditID is missing or not a non-empty string",
    );
    expect(codeOf(() => parseEventList(list([{ ...webhookItem, stage: "Done" }])))).toMatch(
      /^invalid_event: items\[0\]: field stage "Done"/,
    );
    expect(codeOf(() => parseEventList(list([{ ...webhookItem, stageTimestamp: "yesterday" }])))).toMatch(
      /^invalid_event: items\[0\]: field stageTimestamp "yesterday" is not an RFC 3339/,
    );
    expect(codeOf(() => parseEventList(list([{ ...webhookItem, kind: "Pod" }])))).toBe(
      'wrong_kind: items[0]: kind "Pod" is not Event',
    );
    expect(codeOf(() => parseEventList(list(["x"])))).toBe("invalid_event: items[0]: not a JSON object");
    expect(codeOf(() => parseEventLine(JSON.stringify(webhookItem), "audit.log:7"))).toBe(
      "wrong_kind: audit.log:7: kind is missing (expected Event)",
    );
  });

  it("checks the types of the fields downstream relies on, and the body's encoding", () => {
    const list = (items: unknown[]) =>
      JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1", items });
    expect(codeOf(() => parseEventList(list([{ ...webhookItem, sourceIPs: "10.0.0.1" }])))).toBe(
      "invalid_event: items[0]: field sourceIPs is not a list of strings",
    );
    expect(codeOf(() => parseEventList(list([{ ...webhookItem, user: "root" }])))).toBe(
      "invalid_event: items[0]: field user is not an object",
    );
    expect(codeOf(() => parseEventList(list([{ ...webhookItem, verb: 3 }])))).toBe(
      "invalid_event: items[0]: field verb is not a string",
    );
    expect(codeOf(() => parseEventList(list([{ ...webhookItem, annotations: { a: 1 } }])))).toBe(
      'invalid_event: items[0]: annotation "a" is not a string',
    );
    const text = list([webhookItem]);
    const at = text.indexOf('"verb":"') + 8;
    const bad = Buffer.concat([
      Buffer.from(text.slice(0, at)),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(text.slice(at)),
    ]);
    expect(codeOf(() => parseEventList(bad))).toBe("bad_encoding: body is not valid UTF-8");
  });

  it("accepts an empty batch", () => {
    expect(
      parseEventList('{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[]}'),
    ).toEqual([]);
  });
});

describe("a body parsed item by item", () => {
  const item = JSON.stringify(webhookItem);
  const other = JSON.stringify({
    ...webhookItem,
    auditID: "a9b8c7d6-0000-4000-8000-000000000001",
    verb: "get",
  });
  const head = '{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{}';

  /** What parsing `text` as one string gives: the events, or the error's code. */
  function wholeBody(text: string): unknown {
    try {
      return parseEventList(text);
    } catch (err) {
      return (err as IngestError).code;
    }
  }

  it("accepts exactly the JSON the whole body is, and gives the same events", () => {
    const bodies = [
      `${head},"items":[${item},${other}]}`,
      ` \n${head} , "items" : [ ${item} ,\n${other} ] }\n`,
      `${head},"items":[]}`,
      `${head},"items":[${item}],"items":[${other}]}`, // the last `items` counts
      `{"items":[${item}],${head.slice(1)}}`,
      `${head},"items":[${item.replace('"list"', '"l\\u00efst ✓"')}]}`,
      // Not JSON, each in a place the scan does not parse:
      `${head},"items":[${item},]}`,
      `${head},"items":[${item}],}`,
      `${head},"items":[${item}]}x`,
      `${head},"items":[${item}]`,
      `${head},"items":[${item.replace('"list"', "tru")}]}`,
      `${head},"items":[${item.replace('"list"', '"li"st"')}]}`,
      `${head},"items":[${item}],"items":5}`,
      `${head.replace('"metadata":{}', '"metadata":{,}')},"items":[${item}]}`,
    ];
    for (const text of bodies) {
      const expected = wholeBody(text);
      let got: unknown;
      try {
        got = parseEventList(Buffer.from(text));
      } catch (err) {
        got = (err as IngestError).code;
      }
      expect(got, text).toEqual(expected);
    }
    expect(wholeBody(bodies[6]!)).toBe("not_json");
    expect(wholeBody(bodies[12]!)).toBe("invalid_event");
  });

  it("names the item that is not JSON", () => {
    const text = `${head},"items":[${item},${other.replace('"get"', "nul")}]}`;
    expect(codeOf(() => parseEventList(Buffer.from(text)))).toMatch(
      /^not_json: body is not JSON: items\[1\]: /,
    );
  });
});
