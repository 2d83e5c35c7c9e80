// What a row shows of an entry, read from the entry's own verified text (never from a second,
// unverified copy): the audit event's who/what/when, or a kubetrail record's kind.

export interface EventSummary {
  index: number;
  kind: string;
  time: string;
  user: string;
  verb: string;
  resource: string;
  namespace: string;
  name: string;
  code: string;
  source: string;
  stage: string;
  auditID: string;
  /** kubectl-style KIND/NAME for `history`, when the event names one object. */
  object?: { kind: string; name: string; namespace?: string };
  value: Record<string, unknown>;
}

type Obj = Record<string, unknown>;

const str = (v: unknown): string => (typeof v === "string" ? v : "");
const obj = (v: unknown): Obj => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {});

/** `resource[.group][/subresource]`, as the filter language spells it. */
export function resourceOf(ref: Obj): string {
  const r = str(ref["resource"]);
  if (r === "") return "";
  const group = str(ref["apiGroup"]);
  const sub = str(ref["subresource"]);
  return `${r}${group ? `.${group}` : ""}${sub ? `/${sub}` : ""}`;
}

export function summarize(index: number, text: string): EventSummary {
  let value: Obj = {};
  try {
    value = obj(JSON.parse(text));
  } catch {
    // shown as unreadable below
  }
  const user = obj(value["user"]);
  const ref = obj(value["objectRef"]);
  const status = obj(value["responseStatus"]);
  const isEvent = typeof value["auditID"] === "string" && typeof value["stage"] === "string";
  const resource = resourceOf(ref);
  const name = str(ref["name"]);
  const namespace = str(ref["namespace"]);
  const group = str(ref["apiGroup"]);
  return {
    index,
    kind: isEvent ? "Event" : str(value["kind"]) || "unreadable",
    time: str(value["requestReceivedTimestamp"]) || str(value["stageTimestamp"]) || str(value["time"]),
    user: str(user["username"]) || str(value["user"]),
    verb: str(value["verb"]),
    resource,
    namespace,
    name,
    code: typeof status["code"] === "number" ? String(status["code"]) : "",
    source: Array.isArray(value["sourceIPs"]) ? str(value["sourceIPs"][0]) : "",
    stage: str(value["stage"]),
    auditID: str(value["auditID"]),
    ...(isEvent && name !== "" && str(ref["resource"]) !== ""
      ? {
          object: {
            kind: `${str(ref["resource"])}${group ? `.${group}` : ""}`,
            name,
            ...(namespace ? { namespace } : {}),
          },
        }
      : {}),
    value,
  };
}

/** A timestamp as the page shows it: UTC, to the millisecond. */
export function shortTime(t: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d{1,3})?/.exec(t);
  return m ? `${m[1]} ${m[2]}${(m[3] ?? "").padEnd(4, "0").slice(0, 4)}` : t;
}

export function historyLink(o: NonNullable<EventSummary["object"]>): string {
  const q = new URLSearchParams({
    object: `${o.kind}/${o.name}`,
    ...(o.namespace ? { namespace: o.namespace } : {}),
  });
  return `/history?${q.toString()}`;
}

export function personLink(user: string): string {
  return `/people?${new URLSearchParams({ user }).toString()}`;
}
