// docs/openapi.yaml is the contract of the read API: the document must be valid OpenAPI 3.1,
// cover every route the server mounts for reading (the query API's and the web UI's), and
// describe the answers a real `kubetrail serve` gives — each reply below is validated against
// the schema of its status.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import formats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { healthRoutes } from "../src/server/routes/health.js";
import { queryRoutes, type QueryRouteDeps } from "../src/server/routes/query.js";
import { statusRoutes } from "../src/server/routes/status.js";
import { uiApiRoutes, type UiApiDeps } from "../src/server/routes/ui-api.js";
import { uiRoutes, type UiRouteDeps } from "../src/server/routes/ui.js";
import { request } from "./fixtures/audit/request.js";
import {
  startServe,
  startServeInTempDir,
  type ServeInTempDir,
  type ServeProcess,
} from "./fixtures/audit/serve-process.js";
import { requestEvents, SCENARIO } from "./query-fixtures.js";

const SPEC_FILE = new URL("../docs/openapi.yaml", import.meta.url);
type Doc = {
  paths: Record<
    string,
    Record<
      string,
      {
        responses: Record<string, { content?: Record<string, { schema?: unknown }>; $ref?: string }>;
        requestBody?: { content: Record<string, { schema: unknown }> };
      }
    >
  >;
  components: {
    schemas: Record<string, unknown>;
    responses: Record<string, { content: Record<string, { schema: unknown }> }>;
  };
};
const doc = YAML.parse(readFileSync(SPEC_FILE, "utf8")) as Doc;

/** The component schemas as one JSON Schema 2020-12 document, refs pointing into its $defs. */
function schemaBundle(): Record<string, unknown> {
  const text = JSON.stringify(doc.components.schemas).replaceAll(
    "#/components/schemas/",
    "kubetrail-api#/$defs/",
  );
  return { $id: "kubetrail-api", $defs: JSON.parse(text) as unknown };
}

const ajv = new Ajv2020({ strict: true, allErrors: true });
// ajv-formats is CommonJS: its plugin is the default export of the module object.
formats.default(ajv);
ajv.addSchema(schemaBundle());

/** A schema of the document with its refs pointing into the bundle ajv holds. */
function bundled(schema: unknown): object {
  return JSON.parse(
    JSON.stringify(schema).replaceAll("#/components/schemas/", "kubetrail-api#/$defs/"),
  ) as object;
}

/** The JSON schema the document gives for `status` of `method path`. */
function responseSchema(path: string, status: number, method = "get"): unknown {
  const op = doc.paths[path]?.[method];
  if (op === undefined) throw new Error(`${method.toUpperCase()} ${path}: not documented`);
  let response = op.responses[String(status)];
  if (response === undefined) throw new Error(`${method.toUpperCase()} ${path} ${status}: not documented`);
  if (response.$ref !== undefined)
    response = doc.components.responses[response.$ref.split("/").pop() as string];
  const schema = response?.content?.["application/json"]?.schema;
  if (schema === undefined) throw new Error(`${method.toUpperCase()} ${path} ${status}: no JSON schema`);
  return bundled(schema);
}

let running: ServeInTempDir | undefined;
let dir: string;
let serve: ServeProcess;
let ca: string;
let readToken: string;
let ingestToken: string;
const checked = new Set<string>();

/** What a check sends: a bearer token (the read token by default), none (null), or other headers. */
type Credential = string | null | { headers: Record<string, string> };

async function check(
  path: string,
  url: string,
  status: number,
  credential: Credential = readToken,
  post?: { body?: string; headers?: Record<string, string> },
): Promise<unknown> {
  const method = post === undefined ? "get" : "post";
  const headers =
    credential === null
      ? {}
      : typeof credential === "string"
        ? { Authorization: `Bearer ${credential}` }
        : credential.headers;
  let r = await request(serve.port, {
    path: url,
    ca,
    headers: { ...headers, ...post?.headers },
    ...(post === undefined ? {} : { method: "POST", body: post.body ?? "" }),
  });
  // The UI's counts load in the background after a start: 503 with Retry-After until then.
  for (let i = 0; i < 100 && r.status === 503 && status !== 503 && path === "/v1/stats"; i++) {
    await new Promise((res) => setTimeout(res, 100));
    r = await request(serve.port, { path: url, ca, headers });
  }
  expect(r.status, `${url}: ${r.body}`).toBe(status);
  const body = JSON.parse(r.body) as unknown;
  const validate = ajv.compile(responseSchema(path, status, method) as object);
  if (!validate(body))
    throw new Error(`${url} ${status}: ${ajv.errorsText(validate.errors)}\n${r.body.slice(0, 500)}`);
  checked.add(`${method} ${path} ${status}`);
  if (post?.body !== undefined && status === 200) {
    const requestSchema = doc.paths[path]?.[method]?.requestBody?.content["application/json"]?.schema;
    expect(ajv.validate(bundled(requestSchema), JSON.parse(post.body)), `${url} request body`).toBe(true);
  }
  if (r.headers["set-cookie"] !== undefined) lastCookie = String(r.headers["set-cookie"]).split(";")[0] ?? "";
  return body;
}

let lastCookie = "";

beforeAll(async () => {
  running = await startServeInTempDir("kubetrail-openapi-");
  ({ dir, serve, ca, readToken, ingestToken } = running);
  const items = SCENARIO.flatMap(requestEvents).map(({ kind: _k, apiVersion: _a, ...rest }) => rest);
  const r = await request(serve.port, {
    method: "POST",
    path: "/v1/audit/webhook",
    ca,
    body: JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1", items }),
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${ingestToken}` },
  });
  expect(r.status).toBe(200);
  for (let i = 0; i < 100; i++) {
    const page = await request(serve.port, {
      path: "/v1/events?limit=50",
      ca,
      headers: { Authorization: `Bearer ${readToken}` },
    });
    if ((JSON.parse(page.body) as { items: unknown[] }).items.length === SCENARIO.length) break;
    await new Promise((res) => setTimeout(res, 100));
  }
});

afterAll(async () => {
  await running?.close();
});

describe("docs/openapi.yaml", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const result = await new Validator().validate(doc as unknown as Parameters<Validator["validate"]>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect((doc as unknown as { openapi: string }).openapi).toMatch(/^3\.1\./);
  });

  it("documents every route the server mounts for readers and the web UI", () => {
    const routes = [
      ...queryRoutes({} as QueryRouteDeps),
      ...statusRoutes({ report: () => Promise.reject(new Error("not asked")) }),
      ...healthRoutes({ ready: () => true, registry: {} as never }),
      ...uiApiRoutes({} as UiApiDeps),
      ...uiRoutes({} as UiRouteDeps),
    ]
      .filter((r) => r.pattern !== "/metrics")
      .map((r) => ({
        method: r.method.toLowerCase(),
        path: r.pattern.replace(/:(\w+)/g, "{$1}").replace(/\*$/, "{path}"),
      }));
    const all = routes.map((r) => `${r.method} ${r.path}`);
    expect(all).toContain("get /log/tile/entries/{path}");
    expect(all).toContain("get /v1/status");
    expect(all).toEqual(
      expect.arrayContaining(["get /v1/stats", "get /v1/entries/{index}", "post /ui/api/login"]),
    );
    for (const r of routes) expect(doc.paths[r.path]?.[r.method], `${r.method} ${r.path}`).toBeDefined();
  });

  it("describes real answers: listings, pages, proofs and counts", async () => {
    const first = (await check("/v1/events", "/v1/events?limit=3&verb=create,delete", 200)) as {
      metadata: { continue?: string };
      items: { index: number }[];
    };
    expect(first.items).toHaveLength(3);
    expect(first.metadata.continue).toBeDefined();
    await check("/v1/events", `/v1/events?limit=3&cursor=${first.metadata.continue}`, 200);
    const proven = (await check("/v1/events", "/v1/events?proofs=true&asc=true&limit=2", 200)) as {
      treeSize: number;
      metadata: { continue: string };
    };
    await check(
      "/v1/events",
      `/v1/events?proofs=true&limit=2&cursor=${proven.metadata.continue}&tree-size=${proven.treeSize}`,
      200,
    );
    await check("/v1/events/{index}", `/v1/events/${first.items[0]?.index}`, 200);
    await check("/v1/top/{dimension}", "/v1/top/user?top=3", 200);
    await check("/v1/top/{dimension}", "/v1/top/ns?verb=delete", 200);
    await check("/v1/proof/consistency", "/v1/proof/consistency?from=3", 200);
    await check("/v1/keys", "/v1/keys", 200, null);
    const status = (await check("/v1/status", "/v1/status", 200)) as { log: { entries: number } };
    expect(status.log.entries).toBeGreaterThanOrEqual(SCENARIO.length);
    await check("/healthz", "/healthz", 200, null);
    await check("/readyz", "/readyz", 200, null);
  });

  it("describes real refusals", async () => {
    await check("/v1/events", "/v1/events?since=5x", 400);
    await check("/v1/events", "/v1/events?limit=5000", 400);
    await check("/v1/events", "/v1/events?proofs=maybe", 400);
    await check("/v1/events", "/v1/events?proofs=true&tree-size=999999", 400);
    await check("/v1/events", "/v1/events", 401, null);
    await check("/v1/events", "/v1/events", 403, ingestToken);
    await check("/v1/status", "/v1/status", 401, null);
    await check("/v1/status", "/v1/status", 403, ingestToken);
    await check("/v1/events/{index}", "/v1/events/99999", 404);
    await check("/v1/events/{index}", "/v1/events/x", 400);
    await check("/v1/top/{dimension}", "/v1/top/colours", 404);
    await check("/v1/top/{dimension}", "/v1/top/user?top=0", 400);
    await check("/v1/proof/consistency", "/v1/proof/consistency?from=9&to=3", 400);
    await check("/v1/proof/consistency", "/v1/proof/consistency?from=1", 401, null);
    await check("/v1/proof/consistency", "/v1/proof/consistency?from=1", 403, ingestToken);
    await check("/v1/events/{index}", "/v1/events/1", 401, null);
    await check("/v1/events/{index}", "/v1/events/1", 403, ingestToken);
    await check("/v1/top/{dimension}", "/v1/top/verbs", 401, null);
    await check("/v1/top/{dimension}", "/v1/top/verbs", 403, ingestToken);
    await check("/log/tile/{path}", "/log/tile/0/999.p/1", 404, null);
    await check("/log/tile/entries/{path}", "/log/tile/entries/000.p/1", 401, null);
    await check("/log/tile/entries/{path}", "/log/tile/entries/000.p/1", 403, ingestToken);
    await check("/log/tile/entries/{path}", "/log/tile/entries/999", 404);
  });

  it("describes the web UI's answers: counts, entries with proofs, history, records, sessions", async () => {
    const stats = (await check("/v1/stats", "/v1/stats?verb=delete,create&buckets=20&top=3", 200)) as {
      total: number;
      facets: { verbs: { key: string }[] };
    };
    expect(stats.total).toBeGreaterThan(0);
    expect(stats.facets.verbs.length).toBeGreaterThan(1);
    const page = (await check("/v1/entries", "/v1/entries?limit=2&namespace=prod", 200)) as {
      treeSize: number;
      metadata: { continue: string };
      items: { index: number; proof: string[] }[];
    };
    expect(page.items).toHaveLength(2);
    expect(page.items[0]?.proof.length).toBeGreaterThan(0);
    await check(
      "/v1/entries",
      `/v1/entries?limit=2&namespace=prod&cursor=${page.metadata.continue}&tree-size=${page.treeSize}`,
      200,
    );
    await check("/v1/entries/{index}", `/v1/entries/${page.items[0]?.index}?tree-size=${page.treeSize}`, 200);
    const history = (await check(
      "/v1/history",
      "/v1/history?object=configmap/app-config&namespace=prod",
      200,
    )) as { items: { changes?: unknown[] }[] };
    expect(history.items.some((i) => (i.changes ?? []).length > 0)).toBe(true);
    await check("/v1/records", "/v1/records?kind=Alert&kind=AdmissionDecision&limit=5", 200);
    await check("/ui/api/log", "/ui/api/log", 200, null);
    await check("/ui/api/session", "/ui/api/session", 200, null);

    const own = { Origin: `https://127.0.0.1:${serve.port}`, "Content-Type": "application/json" };
    const signedIn = (await check("/ui/api/login", "/ui/api/login", 200, null, {
      headers: own,
      body: JSON.stringify({ token: readToken }),
    })) as { identity: { via: string } };
    expect(signedIn.identity.via).toBe("read-token");
    const session = { headers: { Cookie: lastCookie } };
    expect(lastCookie).toMatch(/^__Host-kubetrail-session=/);
    await check("/ui/api/session", "/ui/api/session", 200, session);
    // The cookie is a read credential for the UI's endpoints.
    await check("/v1/stats", "/v1/stats?since=3650d", 200, session);
    await check("/ui/api/logout", "/ui/api/logout", 200, session, { headers: own });
    await check("/v1/stats", "/v1/stats", 401, session);
  });

  it("describes the web UI's refusals", async () => {
    await check("/v1/stats", "/v1/stats?since=5x", 400);
    await check("/v1/stats", "/v1/stats?buckets=501", 400);
    await check("/v1/stats", "/v1/stats", 403, ingestToken);
    await check("/v1/entries", "/v1/entries?limit=5000", 400);
    await check("/v1/entries", "/v1/entries", 401, null);
    await check("/v1/entries", "/v1/entries", 403, ingestToken);
    await check("/v1/entries/{index}", "/v1/entries/x", 400);
    await check("/v1/entries/{index}", "/v1/entries/99999", 404);
    await check("/v1/entries/{index}", "/v1/entries/1", 401, null);
    await check("/v1/entries/{index}", "/v1/entries/1", 403, ingestToken);
    await check("/v1/history", "/v1/history?object=configmap", 400);
    await check("/v1/history", "/v1/history?object=configmap/app-config", 401, null);
    await check("/v1/history", "/v1/history?object=configmap/app-config", 403, ingestToken);
    await check("/v1/records", "/v1/records", 400);
    await check("/v1/records", "/v1/records?kind=Alert", 401, null);
    await check("/v1/records", "/v1/records?kind=Alert", 403, ingestToken);
    await check("/ui/{path}", "/ui/assets/missing-file.js", 404, null);

    const own = { Origin: `https://127.0.0.1:${serve.port}`, "Content-Type": "application/json" };
    const elsewhere = { Origin: "https://evil.example", "Content-Type": "application/json" };
    const body = JSON.stringify({ token: readToken });
    await check("/ui/api/login", "/ui/api/login", 403, null, { headers: elsewhere, body });
    await check("/ui/api/logout", "/ui/api/logout", 403, null, { headers: elsewhere });
    await check("/ui/api/login", "/ui/api/login", 415, null, {
      headers: { ...own, "Content-Type": "text/plain" },
      body,
    });
    await check("/ui/api/login", "/ui/api/login", 400, null, { headers: own, body: "{" });
    // Failed sign-ins are counted per address: the tenth failure is followed by 429.
    for (let i = 0; i < 10; i++)
      await check("/ui/api/login", "/ui/api/login", 401, null, {
        headers: own,
        body: JSON.stringify({ token: `wrong-token-${i}` }),
      });
    await check("/ui/api/login", "/ui/api/login", 429, null, { headers: own, body });
  });

  it("describes the answer when the Kubernetes API cannot be asked (503)", async () => {
    // A second server whose apiserver is a closed port: a Kubernetes token cannot be checked.
    const kubeconfig = join(dir, "unreachable.kubeconfig");
    writeFileSync(
      kubeconfig,
      YAML.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:1" } }],
        users: [{ name: "u", user: { token: "kubetrail-own-token" } }],
        contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
        "current-context": "c",
      }),
    );
    const data2 = join(dir, "second");
    const second = await startServe([
      "--data",
      data2,
      "--listen",
      "127.0.0.1:0",
      "--no-detect",
      "--kube-auth",
      "--kubeconfig",
      kubeconfig,
    ]);
    try {
      const ca2 = readFileSync(join(data2, "tls", "ca.crt"), "utf8");
      const r = await request(second.port, {
        path: "/v1/events",
        ca: ca2,
        headers: { Authorization: "Bearer some-kubernetes-token-123" },
      });
      expect(r.status).toBe(503);
      const body = JSON.parse(r.body) as { error: string };
      expect(body.error).toMatch(
        /^cannot check a token with the Kubernetes API: cannot reach https:\/\/127\.0\.0\.1:1: connection refused/,
      );
      const validate = ajv.compile(responseSchema("/v1/events", 503) as object);
      expect(validate(body), ajv.errorsText(validate.errors)).toBe(true);
      checked.add("get /v1/events 503");
      // Nor can a Kubernetes token sign in to the web UI.
      const login = await request(second.port, {
        method: "POST",
        path: "/ui/api/login",
        ca: ca2,
        headers: { Origin: `https://127.0.0.1:${second.port}`, "Content-Type": "application/json" },
        body: JSON.stringify({ token: "some-kubernetes-token-123" }),
      });
      expect(login.status).toBe(503);
      const loginBody = JSON.parse(login.body) as { error: string };
      expect(loginBody.error).toMatch(/^cannot check a token with the Kubernetes API: cannot reach/);
      const validateLogin = ajv.compile(responseSchema("/ui/api/login", 503, "post") as object);
      expect(validateLogin(loginBody), ajv.errorsText(validateLogin.errors)).toBe(true);
      // kubetrail's own read token does not depend on the apiserver.
      const own = readFileSync(join(data2, "read-token"), "utf8").trim();
      expect(
        (
          await request(second.port, {
            path: "/v1/events",
            ca: ca2,
            headers: { Authorization: `Bearer ${own}` },
          })
        ).status,
      ).toBe(200);
    } finally {
      await second.stop();
    }
  });

  it("has a test answer for every documented JSON response of the read API", () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const [status, response] of Object.entries(op.responses)) {
          const json = response.$ref !== undefined || response.content?.["application/json"] !== undefined;
          // One 503 is shown above (the others are the same failure, or the UI not built or its
          // counts still loading); /readyz answers 503 only while starting; 410 needs a pruned log
          // (test/pruned-log.test.ts).
          if (!json || (status === "503" && path !== "/v1/events") || status === "410") continue;
          expect(checked, `${method} ${path} ${status}`).toContain(`${method} ${path} ${status}`);
        }
      }
    }
  });
});
