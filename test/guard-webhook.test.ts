// POST /v1/admission/validate on a real `kubetrail serve` over HTTPS: authenticated like ingest,
// every decision durable before the answer (the process is SIGKILLed right after replies and
// the entries are there), denies and warnings on the alert sink, malformed and fuzzed
// AdmissionReviews answered with clear errors while the server keeps serving.
import { copyFileSync, mkdirSync } from "node:fs";
import { fixture } from "./fixtures/guard/files.js";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  call,
  readLog,
  removeDir,
  requireBuiltCli,
  runVerify,
  startServe,
  tempDir,
  type Serve,
} from "./faults/serve-process.js";

let dir: string;
let serve: Serve | undefined;

function review(uid: string, spec: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid,
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      name: uid,
      namespace: "team-a",
      operation: "CREATE",
      userInfo: { username: "alice", groups: ["devs"] },
      object: { apiVersion: "v1", kind: "Pod", metadata: { name: uid, namespace: "team-a" }, spec },
      dryRun: false,
      ...extra,
    },
  });
}

const PRIVILEGED = { containers: [{ name: "c", image: "nginx:1", securityContext: { privileged: true } }] };
const LATEST = { containers: [{ name: "c", image: "nginx:latest" }] };
const FINE = { containers: [{ name: "c", image: "nginx:1" }] };

function must(s: Serve | undefined): Serve {
  if (!s) throw new Error("serve did not start");
  return s;
}

const post = (body: string, token = must(serve).ingestToken) =>
  call(must(serve), { path: "/v1/admission/validate", body, ...(token === "" ? {} : { token }) });

beforeAll(async () => {
  requireBuiltCli();
  dir = tempDir("guard-webhook");
  mkdirSync(path.join(dir, "policies"));
  copyFileSync(fixture("pss-and-no-latest.yaml"), path.join(dir, "policies", "p.yaml"));
  // Only the two configured policies: the other built-ins would add their audit findings.
  serve = await startServe(path.join(dir, "data"), [
    "--guard-policies",
    path.join(dir, "policies"),
    "--no-guard-builtins",
    "--no-detect",
  ]);
});
afterAll(async () => {
  await serve?.kill("SIGKILL");
  removeDir(dir);
});

interface ReviewReply {
  apiVersion: string;
  kind: string;
  response: {
    uid: string;
    allowed: boolean;
    status?: { code: number; message: string };
    warnings?: string[];
    auditAnnotations?: Record<string, string>;
  };
}

describe("the admission webhook over HTTPS", () => {
  it("needs the ingest credential", async () => {
    expect((await post(review("a", FINE), "")).status).toBe(401);
    expect((await post(review("a", FINE), must(serve).readToken)).status).toBe(403);
  });

  it("denies with the policy's message and a 403 status, warns, allows, echoing the uid", async () => {
    const denied = await post(review("deny-1", PRIVILEGED));
    expect(denied.status).toBe(200);
    const d = JSON.parse(denied.body) as ReviewReply;
    expect(d).toMatchObject({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: { uid: "deny-1", allowed: false, status: { code: 403 } },
    });
    expect(d.response.status?.message).toBe(
      '[pss] container "c" must not set securityContext.privileged=true (spec.containers[0].securityContext.privileged)',
    );
    expect(d.response.auditAnnotations).toMatchObject({
      decision: "deny",
      "decision-index": expect.stringMatching(/^\d+$/),
    });
    const warned = JSON.parse((await post(review("warn-1", LATEST))).body) as ReviewReply;
    expect(warned.response).toMatchObject({
      allowed: true,
      warnings: [
        '[no-latest] container "c" image nginx:latest uses :latest; pin a version (spec.containers[0].image)',
      ],
    });
    const allowed = JSON.parse((await post(review("allow-1", FINE))).body) as ReviewReply;
    expect(allowed.response).toEqual({
      uid: "allow-1",
      allowed: true,
      auditAnnotations: expect.objectContaining({ decision: "allow" }),
    });
  });

  it("answers the review version it was sent", async () => {
    const body = review("beta-1", FINE).replace("admission.k8s.io/v1", "admission.k8s.io/v1beta1");
    expect((JSON.parse((await post(body)).body) as ReviewReply).apiVersion).toBe("admission.k8s.io/v1beta1");
  });

  it("refuses malformed reviews with 400 naming what is wrong", async () => {
    const cases: [string, RegExp][] = [
      ["not json", /body is not JSON/],
      ["[]", /must be an AdmissionReview object/],
      [JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" }), /request: required/],
      [
        review("x", FINE, { operation: "EXPLODE" }),
        /request\.operation: must be one of CREATE, UPDATE, DELETE, CONNECT/,
      ],
      [review("", FINE), /request\.uid: required/],
      [review("x", FINE, { object: "a pod" }), /request\.object: must be an object or null/],
      [
        review("x", FINE, { userInfo: { groups: "devs" } }),
        /request\.userInfo\.groups: must be a list of strings/,
      ],
    ];
    for (const [body, message] of cases) {
      const r = await post(body);
      expect(r.status, body).toBe(400);
      expect((JSON.parse(r.body) as { error: string }).error).toMatch(message);
    }
  });

  it("survives seeded fuzzed AdmissionReviews: every answer is a decision or a 400, never a 5xx", async () => {
    const seed = Number(process.env["FUZZ_SEED"] ?? 20261206);
    console.log(`fuzz seed ${seed} (FUZZ_SEED=… to replay)`);
    const json = fc.jsonValue({ maxDepth: 4 });
    const mutated = fc.record({
      path: fc.constantFrom(
        "request",
        "request.object",
        "request.object.spec",
        "request.userInfo",
        "request.kind",
        "request.object.spec.containers",
        "request.object.metadata",
      ),
      value: json,
    });
    const samples = fc.sample(
      fc.oneof(
        json.map((v) => JSON.stringify(v)),
        mutated.map(({ path: p, value }) => {
          const base = JSON.parse(review("fuzz", PRIVILEGED)) as Record<string, unknown>;
          const keys = p.split(".");
          let node = base as Record<string, unknown>;
          for (const k of keys.slice(0, -1)) node = node[k] as Record<string, unknown>;
          node[keys[keys.length - 1]!] = value;
          return JSON.stringify(base);
        }),
      ),
      { numRuns: 150, seed },
    );
    for (const body of samples) {
      const r = await post(body);
      expect([200, 400], body.slice(0, 300)).toContain(r.status);
      if (r.status === 200) expect((JSON.parse(r.body) as ReviewReply).response.uid).toBeTypeOf("string");
    }
    expect((await call(must(serve), { path: "/healthz" })).status).toBe(200);
  });

  it("every answered decision is durable: SIGKILL right after the replies loses none, and the log verifies", async () => {
    const uids = Array.from({ length: 20 }, (_, i) => `durable-${i}`);
    const replies = await Promise.all(uids.map((u, i) => post(review(u, i % 2 === 0 ? PRIVILEGED : FINE))));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    const s = must(serve);
    // Denies and warnings also went to the alert sink (stdout by default).
    expect(s.output()).toContain('"rule":"guard/pss"');
    await s.kill("SIGKILL");
    const decisions = (await readLog(s.dataDir))
      .map(
        (e) =>
          JSON.parse(Buffer.from(e.bytes).toString("utf8")) as {
            kind?: string;
            uid?: string;
            result?: string;
          },
      )
      .filter((e) => e.kind === "AdmissionDecision");
    for (const [i, u] of uids.entries())
      expect(decisions.find((d) => d.uid === u)?.result, u).toBe(i % 2 === 0 ? "deny" : "allow");
    const v = await runVerify(s.dataDir);
    expect(v.code, v.stderr).toBe(0);
  });
});
