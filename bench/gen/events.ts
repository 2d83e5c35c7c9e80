// Deterministic, realistic Kubernetes audit events for benchmarks and tests.
// Requests arrive as a Poisson stream; each request yields its stage events in time order
// (RequestReceived, then ResponseComplete; watches and exec sessions also ResponseStarted),
// interleaved with other requests the way the apiserver writes them.
import type { AuditEvent, Level, Stage, Status, EventList, ObjectReference } from "../../src/audit/types.js";
import { type Action, ACTIONS, FORBID_RATE, type NonResource, type Verb } from "./actions.js";
import { DELETE_OPTIONS, listBody, objectBody, patchBody } from "./bodies.js";
import {
  type Actor,
  type ActorClass,
  makeActor,
  nodeName,
  pickActorClass,
  pickNamespace,
  podName,
  RESOURCES,
  type ResourceKind,
  workloadName,
} from "./catalog.js";
import { makeRng, type Rng } from "./rng.js";

export interface GenerateOptions {
  seed: number;
  /** Number of events (not requests) to produce. */
  count: number;
  /** MicroTime or RFC 3339 time of the first request; default 2026-11-21T00:00:00.000000Z. */
  startTime?: string;
  /** Mean events per second of generated time; default 500. */
  ratePerSecond?: number;
}

export const DEFAULT_START = "2026-11-21T00:00:00.000000Z";
export const AUDIT_API_VERSION = "audit.k8s.io/v1";
const EVENTS_PER_REQUEST = 2.06; // measured mean; keeps ratePerSecond about right

/**
 * Yields `count` audit events, identical for the same options on any machine. Items carry no
 * kind/apiVersion (as in a webhook EventList); use generateEventLines for log-backend lines.
 */
export function* generateEvents(opts: GenerateOptions): Generator<AuditEvent> {
  const { seed, count } = opts;
  if (!Number.isInteger(count) || count < 0)
    throw new RangeError(`generateEvents: count must be a non-negative integer, got ${count}`);
  const rate = opts.ratePerSecond ?? 500;
  if (!(rate > 0)) throw new RangeError(`generateEvents: ratePerSecond must be positive, got ${rate}`);
  const rng = makeRng(seed);
  const pending = new StageQueue();
  const meanGapUs = (EVENTS_PER_REQUEST / rate) * 1e6;
  const state: WorldState = { rv: 48_000_000 };
  let now = parseMicroTime(opts.startTime ?? DEFAULT_START);
  let emitted = 0;
  while (emitted < count) {
    const arrival = now + Math.max(1, Math.round(rng.exp(meanGapUs)));
    for (let p = pending.peek(); p !== undefined && p.at <= arrival; p = pending.peek()) {
      pending.pop();
      yield p.event;
      if (++emitted === count) return;
    }
    now = arrival;
    const req = makeRequest(rng, state, now);
    yield stageEvent(req, "RequestReceived", now);
    if (++emitted === count) return;
    if (req.startedAfterUs !== undefined) {
      const at = now + req.startedAfterUs;
      pending.push(at, stageEvent(req, "ResponseStarted", at));
    }
    const done = now + req.latencyUs;
    pending.push(done, stageEvent(req, "ResponseComplete", done));
  }
}

/** Log-backend lines: each event as one JSON object with kind and apiVersion, no trailing newline. */
export function* generateEventLines(opts: GenerateOptions): Generator<string> {
  for (const ev of generateEvents(opts)) yield toLogLine(ev);
}

/** One event as the apiserver's log backend writes it (kind and apiVersion first). */
export function toLogLine(ev: AuditEvent): string {
  const { kind: _k, apiVersion: _a, ...rest } = ev;
  return JSON.stringify({ kind: "Event", apiVersion: AUDIT_API_VERSION, ...rest });
}

/** A webhook batch: an EventList whose items carry no kind/apiVersion, as the apiserver sends it. */
export function toEventList(events: Iterable<AuditEvent>): EventList {
  const items: AuditEvent[] = [];
  for (const ev of events) {
    const { kind: _k, apiVersion: _a, ...rest } = ev;
    items.push(rest as AuditEvent);
  }
  return { kind: "EventList", apiVersion: AUDIT_API_VERSION, metadata: {}, items };
}

/** Mean size in bytes of the log-backend line of the first `count` events for `seed`. */
export function averageSize(opts: GenerateOptions): number {
  let bytes = 0;
  let n = 0;
  for (const line of generateEventLines(opts)) {
    bytes += Buffer.byteLength(line);
    n++;
  }
  return n === 0 ? 0 : bytes / n;
}

/** Who sent an event, by the same classes the generator draws from (for mix checks and reports). */
export function actorClassOf(ev: AuditEvent): ActorClass {
  const u = ev.user.username ?? "";
  if (u.startsWith("system:node:")) return "kubelet";
  if (
    u === "system:kube-controller-manager" ||
    (u.startsWith("system:serviceaccount:kube-system:") &&
      (ev.userAgent ?? "").startsWith("kube-controller-manager/"))
  )
    return "controller";
  if (u === "system:kube-scheduler") return "scheduler";
  if (u === "system:anonymous") return "anonymous";
  if (u.startsWith("system:serviceaccount:")) return "serviceaccount";
  if (u.startsWith("system:")) return "system";
  return "human";
}

// ---- time ----

/** Microseconds since the epoch from a MicroTime / RFC 3339 string (fraction optional). */
export function parseMicroTime(s: string): number {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(s);
  if (!m) throw new RangeError(`not an RFC 3339 UTC time: ${JSON.stringify(s)}`);
  const secs = Date.parse(`${m[1]}Z`);
  if (Number.isNaN(secs)) throw new RangeError(`not a valid time: ${JSON.stringify(s)}`);
  const frac = (m[2] ?? "").padEnd(6, "0").slice(0, 6);
  return secs * 1000 + Number(frac);
}

let cachedSec = NaN;
let cachedPrefix = "";
/** Formats microseconds since the epoch as a Kubernetes MicroTime: 2026-11-21T05:58:25.096042Z. */
export function formatMicroTime(us: number): string {
  const sec = Math.floor(us / 1e6);
  if (sec !== cachedSec) {
    cachedSec = sec;
    cachedPrefix = new Date(sec * 1000).toISOString().slice(0, 19);
  }
  return `${cachedPrefix}.${String(us - sec * 1e6).padStart(6, "0")}Z`;
}

// ---- requests ----

interface WorldState {
  rv: number;
}

interface Request {
  level: Level;
  auditID: string;
  requestURI: string;
  verb: string;
  actor: Actor;
  impersonatedUser?: AuditEvent["impersonatedUser"];
  objectRef?: ObjectReference;
  status: Status;
  requestObject?: unknown;
  responseObject?: unknown;
  receivedUs: number;
  latencyUs: number;
  startedAfterUs?: number;
  annotations?: Record<string, string>;
}

function makeRequest(rng: Rng, state: WorldState, now: number): Request {
  const cls = pickActorClass(rng);
  const actor = makeActor(rng, cls);
  const action = ACTIONS[cls](rng);
  const auditID = rng.uuid();
  if ("path" in action) return nonResourceRequest(rng, actor, action, auditID, now);
  return resourceRequest(rng, state, actor, action, auditID, now);
}

function nonResourceRequest(
  rng: Rng,
  actor: Actor,
  action: NonResource,
  auditID: string,
  now: number,
): Request {
  return {
    level: "Metadata",
    auditID,
    requestURI: action.path,
    verb: "get",
    actor,
    status: { metadata: {}, code: 200 },
    receivedUs: now,
    latencyUs: Math.round(200 + rng.exp(800)),
    annotations: allow(
      `RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"`,
    ),
  };
}

function resourceRequest(
  rng: Rng,
  state: WorldState,
  actor: Actor,
  action: Action,
  auditID: string,
  now: number,
): Request {
  const res = RESOURCES[action.res];
  const namespace = res.namespaced && !action.all ? (action.ns ?? namespaceFor(rng, actor)) : undefined;
  const verb = action.verb;
  const collection = verb === "list" || verb === "watch" || (verb === "create" && action.sub === undefined);
  const name = collection
    ? verb === "create"
      ? nameFor(rng, res, actor, action)
      : undefined
    : nameFor(rng, res, actor, action);
  state.rv += rng.range(1, 40);
  const rv = String(state.rv);

  const objectRef: ObjectReference = {
    resource: res.resource,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(res.group !== "" ? { apiGroup: res.group } : {}),
    apiVersion: res.version,
    ...(action.sub !== undefined ? { subresource: action.sub } : {}),
  };
  const requestURI = uriFor(
    rng,
    res,
    namespace,
    collection && verb !== "create"
      ? undefined
      : verb === "create" && action.sub === undefined
        ? undefined
        : name,
    action,
    actor,
    rv,
  );
  const level = levelFor(rng, res, verb, action.sub);
  const forbidden = rng.chance(FORBID_RATE[actor.cls]);
  const req: Request = {
    level,
    auditID,
    requestURI,
    verb,
    actor,
    objectRef,
    status: { metadata: {}, code: successCode(verb, action.sub) },
    receivedUs: now,
    latencyUs: latencyFor(rng, verb, action.sub),
  };
  if (actor.cls === "human" && rng.chance(0.02)) {
    req.impersonatedUser = {
      username: `system:serviceaccount:${namespace ?? "default"}:deployer`,
      groups: ["system:serviceaccounts", "system:authenticated"],
    };
  }
  if (verb === "watch" || action.sub === "exec" || action.sub === "portforward") {
    req.startedAfterUs = Math.round(500 + rng.exp(2000));
  }
  if (forbidden) {
    req.status = forbiddenStatus(actor, verb, res, namespace, name);
    req.latencyUs = Math.round(300 + rng.exp(700));
    req.startedAfterUs = undefined;
    req.annotations = { "authorization.k8s.io/decision": "forbid", "authorization.k8s.io/reason": "" };
    if (level !== "Metadata" && (verb === "create" || verb === "update" || verb === "patch"))
      req.requestObject = bodyFor(rng, res, verb, namespace, name, rv);
    if (level === "RequestResponse") req.responseObject = { kind: "Status", apiVersion: "v1", ...req.status };
    return req;
  }
  req.annotations = allow(rbacReason(actor));
  if (res.resource === "pods" && verb === "create" && action.sub === undefined) {
    req.annotations["pod-security.kubernetes.io/enforce-policy"] = "baseline:latest";
  }
  const failure = rng.chance(0.02) ? failureFor(verb, res, name) : undefined;
  if (failure) req.status = failure;
  if (level === "Metadata") return req;
  if (verb === "create" || verb === "update" || verb === "patch")
    req.requestObject = bodyFor(rng, res, verb, namespace, name, rv);
  if (verb === "delete") req.requestObject = DELETE_OPTIONS;
  if (
    level === "RequestResponse" &&
    !failure &&
    verb !== "watch" &&
    action.sub !== "exec" &&
    action.sub !== "portforward" &&
    action.sub !== "log"
  ) {
    req.responseObject =
      verb === "list"
        ? listBody(rng, res, namespace, listSize(rng), rv)
        : objectBody(
            rng,
            { res, namespace, name: name ?? "x", resourceVersion: rv, createdAt: "2026-10-02T08:14:55Z" },
            objectSize(rng),
          );
  }
  return req;
}

function stageEvent(req: Request, stage: Stage, atUs: number): AuditEvent {
  const final = stage !== "RequestReceived";
  const ev: AuditEvent = {
    level: req.level,
    auditID: req.auditID,
    stage,
    requestURI: req.requestURI,
    verb: req.verb,
    user: req.actor.user,
    ...(req.impersonatedUser ? { impersonatedUser: req.impersonatedUser } : {}),
    sourceIPs: [req.actor.sourceIP],
    userAgent: req.actor.userAgent,
    ...(req.objectRef ? { objectRef: req.objectRef } : {}),
    ...(final
      ? {
          responseStatus:
            stage === "ResponseStarted"
              ? { metadata: {}, code: req.verb === "watch" ? 200 : 101 }
              : req.status,
        }
      : {}),
    // The apiserver decodes the body after RequestReceived is logged, so only later stages carry it.
    ...(final && req.requestObject !== undefined ? { requestObject: req.requestObject } : {}),
    ...(stage === "ResponseComplete" && req.responseObject !== undefined
      ? { responseObject: req.responseObject }
      : {}),
    requestReceivedTimestamp: formatMicroTime(req.receivedUs),
    stageTimestamp: formatMicroTime(atUs),
    ...(final && req.annotations ? { annotations: req.annotations } : {}),
  };
  return ev;
}

// ---- details ----

function allow(reason: string): Record<string, string> {
  return { "authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": reason };
}

function rbacReason(actor: Actor): string {
  const u = actor.user.username ?? "";
  switch (actor.cls) {
    case "kubelet":
      return "";
    case "human":
      return `RBAC: allowed by ClusterRoleBinding "${(actor.user.groups?.[0] ?? "oidc:x").slice(5)}" of ClusterRole "edit" to Group "${actor.user.groups?.[0] ?? ""}"`;
    case "serviceaccount":
    case "controller": {
      const sa = u.split(":").pop() ?? u;
      return `RBAC: allowed by ClusterRoleBinding "system:controller:${sa}" of ClusterRole "system:controller:${sa}" to ServiceAccount "${sa}/kube-system"`;
    }
    default:
      return `RBAC: allowed by ClusterRoleBinding "${u}" of ClusterRole "${u}" to User "${u}"`;
  }
}

function namespaceFor(rng: Rng, actor: Actor): string {
  if (actor.cls === "serviceaccount" && rng.chance(0.7))
    return (actor.user.username ?? "").split(":")[2] ?? "default";
  return pickNamespace(rng);
}

function nameFor(rng: Rng, res: ResourceKind, actor: Actor, action: Action): string {
  if (action.own) {
    if (actor.cls === "kubelet") return (actor.user.username ?? "").slice("system:node:".length);
    if (res.resource === "leases") return (actor.user.username ?? "lease").split(":").pop() ?? "lease";
  }
  switch (res.resource) {
    case "pods":
      return podName(rng);
    case "nodes":
      return nodeName(rng.int(48));
    case "namespaces":
      return rng.chance(0.5) ? `feature-${rng.alnum(5)}` : pickNamespace(rng);
    case "replicasets":
      return `${workloadName(rng)}-${rng.alnum(10)}`;
    case "events":
      return `${podName(rng)}.${rng.hex(16)}`;
    case "secrets":
      return rng.pick(["-tls", "-credentials", "-db-password", "-token"].map((s) => workloadName(rng) + s));
    case "configmaps":
      return rng.chance(0.3) ? "kube-root-ca.crt" : `${workloadName(rng)}-config`;
    case "serviceaccounts":
      return rng.chance(0.5) ? "default" : workloadName(rng);
    case "rolebindings":
    case "clusterrolebindings":
      return `${workloadName(rng)}-${rng.pick(["edit", "view", "admin", "cluster-admin"])}`;
    case "clusterroles":
      return rng.pick(["edit", "view", "admin", "aggregate-metrics"]);
    case "jobs":
      return `${workloadName(rng)}-${rng.range(28000000, 28999999)}`;
    default:
      return workloadName(rng);
  }
}

function uriFor(
  rng: Rng,
  res: ResourceKind,
  ns: string | undefined,
  name: string | undefined,
  action: Action,
  actor: Actor,
  rv: string,
): string {
  const root = res.group === "" ? `/api/${res.version}` : `/apis/${res.group}/${res.version}`;
  let path = `${root}${ns !== undefined ? `/namespaces/${ns}` : ""}/${res.resource}`;
  if (name !== undefined) path += `/${name}`;
  if (action.sub !== undefined) path += `/${action.sub}`;
  switch (action.verb) {
    case "watch": {
      const t = rng.range(300, 600);
      const sel =
        actor.cls === "kubelet" && res.resource === "pods"
          ? `&fieldSelector=spec.nodeName%3D${(actor.user.username ?? "").slice(12)}`
          : "";
      return `${path}?allowWatchBookmarks=true${sel}&resourceVersion=${rv}&timeout=${Math.floor(t / 60)}m${t % 60}s&timeoutSeconds=${t}&watch=true`;
    }
    case "list":
      return `${path}?limit=500&resourceVersion=0`;
    case "patch":
      return `${path}${actor.cls === "human" ? "?fieldManager=kubectl-client-side-apply&fieldValidation=Strict" : ""}`;
    case "create":
      if (action.sub === "exec")
        return `${path}?command=%2Fbin%2Fsh&container=app&stdin=true&stdout=true&tty=true`;
      if (action.sub === "token") return path;
      return actor.cls === "human"
        ? `${path}?fieldManager=kubectl-client-side-apply&fieldValidation=Strict`
        : path;
    case "get":
      return action.sub === "log" ? `${path}?container=app&follow=true&tailLines=100` : path;
    default:
      return path;
  }
}

function levelFor(rng: Rng, res: ResourceKind, verb: Verb, sub: string | undefined): Level {
  // The usual production policy: never bodies for secrets/configmaps/tokens/leases/events,
  // bodies for writes, bodies for some reads.
  if (
    res.resource === "secrets" ||
    res.resource === "configmaps" ||
    res.resource === "leases" ||
    res.resource === "events" ||
    sub === "token"
  )
    return "Metadata";
  if (sub === "exec" || sub === "portforward" || sub === "log") return "Request";
  if (verb === "get" || verb === "list" || verb === "watch")
    return rng.chance(0.15) ? "RequestResponse" : "Metadata";
  const x = rng.next();
  return x < 0.55 ? "RequestResponse" : x < 0.85 ? "Request" : "Metadata";
}

function successCode(verb: Verb, sub: string | undefined): number {
  if (sub === "exec" || sub === "portforward") return 101;
  return verb === "create" ? 201 : 200;
}

function latencyFor(rng: Rng, verb: Verb, sub: string | undefined): number {
  if (verb === "watch") return rng.range(300, 600) * 1e6;
  if (sub === "exec" || sub === "portforward") return Math.round(1e6 + rng.exp(60e6));
  if (sub === "log") return Math.round(2e5 + rng.exp(20e6));
  if (verb === "list") return Math.round(2000 + rng.exp(40_000));
  if (verb === "get") return Math.round(400 + rng.exp(2500));
  return Math.round(2000 + rng.exp(12_000));
}

/** Typical object responses are a few KB. */
function objectSize(rng: Rng): number {
  return Math.round(800 + rng.exp(2600));
}

/** Lists: mostly tens of KB, and now and then a 100–400 KB page of a big collection. */
function listSize(rng: Rng): number {
  return rng.chance(0.12) ? rng.range(100_000, 400_000) : Math.round(2000 + rng.exp(18_000));
}

function bodyFor(
  rng: Rng,
  res: ResourceKind,
  verb: Verb,
  ns: string | undefined,
  name: string | undefined,
  rv: string,
): unknown {
  if (verb === "patch") return patchBody(rng, res, Math.round(300 + rng.exp(1500)));
  return objectBody(
    rng,
    { res, namespace: ns, name: name ?? "x", resourceVersion: rv, createdAt: "2026-10-02T08:14:55Z" },
    objectSize(rng),
  );
}

function forbiddenStatus(
  actor: Actor,
  verb: Verb,
  res: ResourceKind,
  ns: string | undefined,
  name: string | undefined,
): Status {
  const what = name !== undefined ? `${res.resource} "${name}"` : res.resource;
  const where = ns !== undefined ? ` in the namespace "${ns}"` : " at the cluster scope";
  return {
    metadata: {},
    status: "Failure",
    message: `${what} is forbidden: User "${actor.user.username ?? ""}" cannot ${verb} resource "${res.resource}" in API group "${res.group}"${where}`,
    reason: "Forbidden",
    details: { ...(name !== undefined ? { name } : {}), group: res.group, kind: res.resource },
    code: 403,
  };
}

function failureFor(verb: Verb, res: ResourceKind, name: string | undefined): Status | undefined {
  const what = `${res.resource}${res.group ? `.${res.group}` : ""} "${name ?? ""}"`;
  if (verb === "get" || verb === "delete") {
    return {
      metadata: {},
      status: "Failure",
      message: `${what} not found`,
      reason: "NotFound",
      details: { name, group: res.group, kind: res.resource },
      code: 404,
    };
  }
  if (verb === "update") {
    return {
      metadata: {},
      status: "Failure",
      message: `Operation cannot be fulfilled on ${what}: the object has been modified; please apply your changes to the latest version and try again`,
      reason: "Conflict",
      details: { name, group: res.group, kind: res.resource },
      code: 409,
    };
  }
  if (verb === "create") {
    return {
      metadata: {},
      status: "Failure",
      message: `${what} already exists`,
      reason: "AlreadyExists",
      details: { name, group: res.group, kind: res.resource },
      code: 409,
    };
  }
  return undefined;
}

// ---- a min-heap of later stage events, ordered by time then insertion ----

interface Pending {
  at: number;
  seq: number;
  event: AuditEvent;
}

class StageQueue {
  private heap: Pending[] = [];
  private seq = 0;

  peek(): Pending | undefined {
    return this.heap[0];
  }

  push(at: number, event: AuditEvent): void {
    const h = this.heap;
    h.push({ at, seq: this.seq++, event });
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i] as Pending, h[parent] as Pending)) break;
      [h[i], h[parent]] = [h[parent] as Pending, h[i] as Pending];
      i = parent;
    }
  }

  pop(): Pending | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l] as Pending, h[m] as Pending)) m = l;
        if (r < h.length && before(h[r] as Pending, h[m] as Pending)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as Pending, h[i] as Pending];
        i = m;
      }
    }
    return top;
  }
}

function before(x: Pending, y: Pending): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}
