// docs/openapi.yaml is the contract of the read API: the document must be valid OpenAPI 3.1,
// cover every route the server mounts for reading, and describe the answers a real
// `kubetrail serve` gives — each reply below is validated against the schema of its status.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import formats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { healthRoutes } from "../src/server/routes/health.js";
import { queryRoutes, type QueryRouteDeps } from "../src/server/routes/query.js";
import { request } from "./fixtures/audit/request.js";
import { startServe, type ServeProcess } from "./fixtures/audit/serve-process.js";
import { requestEvents, SCENARIO } from "./query-fixtures.js";

const SPEC_FILE = new URL("../docs/openapi.yaml", import.meta.url);
type Doc = {
  paths: Record<
    string,
    Record<
      string,
      { responses: Record<string, { content?: Record<string, { schema?: unknown }>; $ref?: string }> }
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

/** The JSON schema the document gives for `status` of GET `path`. */
function responseSchema(path: string, status: number): unknown {
  const op = doc.paths[path]?.["get"];
  if (op === undefined) throw new Error(`${path}: not documented`);
  let response = op.responses[String(status)];
  if (response === undefined) throw new Error(`GET ${path} ${status}: not documented`);
  if (response.$ref !== undefined)
    response = doc.components.responses[response.$ref.split("/").pop() as string];
  const schema = response?.content?.["application/json"]?.schema;
  if (schema === undefined) throw new Error(`GET ${path} ${status}: no JSON schema`);
  return JSON.parse(JSON.stringify(schema).replaceAll("#/components/schemas/", "kubetrail-api#/$defs/"));
}

let dir: string;
let serve: ServeProcess;
let ca: string;
let readToken: string;
let ingestToken: string;
const checked = new Set<string>();

async function check(
  path: string,
  url: string,
  status: number,
  token: string | null = readToken,
): Promise<unknown> {
  const r = await request(serve.port, {
    path: url,
    ca,
    headers: token === null ? {} : { Authorization: `Bearer ${token}` },
  });
  expect(r.status, `${url}: ${r.body}`).toBe(status);
  const body = JSON.parse(r.body) as unknown;
  const validate = ajv.compile(responseSchema(path, status) as object);
  if (!validate(body))
    throw new Error(`${url} ${status}: ${ajv.errorsText(validate.errors)}\n${r.body.slice(0, 500)}`);
  checked.add(`${path} ${status}`);
  return body;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kubetrail-openapi-"));
  serve = await startServe([
    "--data",
    dir,
    "--listen",
    "127.0.0.1:0",
    "--integrate-interval",
    "100ms",
    "--no-detect",
  ]);
  ca = readFileSync(join(dir, "tls", "ca.crt"), "utf8");
  readToken = readFileSync(join(dir, "read-token"), "utf8").trim();
  ingestToken = readFileSync(join(dir, "ingest-token"), "utf8").trim();
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
  if (serve !== undefined && serve.child.exitCode === null) await serve.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("docs/openapi.yaml", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const result = await new Validator().validate(doc as unknown as Parameters<Validator["validate"]>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect((doc as unknown as { openapi: string }).openapi).toMatch(/^3\.1\./);
  });

  it("documents every route the server mounts for readers", () => {
    const patterns = [
      ...queryRoutes({} as QueryRouteDeps),
      ...healthRoutes({ ready: () => true, registry: {} as never }),
    ]
      .filter((r) => r.pattern !== "/metrics")
      .map((r) => r.pattern.replace(/:(\w+)/g, "{$1}").replace(/\*$/, "{path}"));
    expect(patterns).toContain("/log/tile/entries/{path}");
    for (const p of patterns) expect(Object.keys(doc.paths), p).toContain(p);
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
      checked.add("/v1/events 503");
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
      for (const [status, response] of Object.entries(ops["get"]?.responses ?? {})) {
        const json = response.$ref !== undefined || response.content?.["application/json"] !== undefined;
        // One 503 is shown above (the others are the same failure); /readyz answers 503 only while
        // starting; 410 needs a pruned log (test/pruned-log.test.ts).
        if (!json || (status === "503" && path !== "/v1/events") || status === "410") continue;
        expect(checked, `${path} ${status}`).toContain(`${path} ${status}`);
      }
    }
  });
});
