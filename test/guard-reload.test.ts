// Policies reload on SIGHUP without a restart; a policy file that no longer loads leaves the
// previous policies in force. The webhook's metrics are on /metrics.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  call,
  removeDir,
  requireBuiltCli,
  sleep,
  startServe,
  tempDir,
  type Serve,
} from "./faults/serve-process.js";

let dir: string;
let serve: Serve | undefined;

const policy = (mode: string, extra = "") => `apiVersion: kubetrail.dev/v1
kind: GuardPolicy
metadata: {name: no-host-network}
spec:
  mode: ${mode}
  match: {resources: [{kinds: [Pod]}]}
  validations:
    - expression: "!has(object.spec.hostNetwork) || !object.spec.hostNetwork"
      message: no host network${extra}
`;

const review = JSON.stringify({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  request: {
    uid: "r",
    kind: { group: "", version: "v1", kind: "Pod" },
    resource: { group: "", version: "v1", resource: "pods" },
    namespace: "a",
    operation: "CREATE",
    userInfo: { username: "alice" },
    object: { kind: "Pod", metadata: { name: "p" }, spec: { hostNetwork: true, containers: [] } },
  },
});

function must(s: Serve | undefined): Serve {
  if (!s) throw new Error("serve did not start");
  return s;
}

async function decision(): Promise<string> {
  const r = await call(must(serve), {
    path: "/v1/admission/validate",
    body: review,
    token: must(serve).ingestToken,
  });
  return (JSON.parse(r.body) as { response: { auditAnnotations: { decision: string } } }).response
    .auditAnnotations.decision;
}

async function eventually(want: string): Promise<string> {
  let got = "";
  for (let i = 0; i < 50 && got !== want; i++) {
    got = await decision();
    if (got !== want) await sleep(100);
  }
  return got;
}

beforeAll(async () => {
  requireBuiltCli();
  dir = tempDir("guard-reload");
  mkdirSync(path.join(dir, "policies"));
  writeFileSync(path.join(dir, "policies", "p.yaml"), policy("warn"));
  serve = await startServe(path.join(dir, "data"), [
    "--guard-policies",
    path.join(dir, "policies"),
    "--no-guard-builtins",
    "--no-detect",
  ]);
});
afterAll(async () => {
  await serve?.kill("SIGTERM");
  removeDir(dir);
});

describe("policy reload", () => {
  it("SIGHUP applies edited policies; a broken edit keeps the previous ones", async () => {
    expect(await decision()).toBe("warn");
    writeFileSync(path.join(dir, "policies", "p.yaml"), policy("enforce"));
    must(serve).proc.kill("SIGHUP");
    expect(await eventually("deny")).toBe("deny");
    writeFileSync(path.join(dir, "policies", "p.yaml"), policy("enforce").replace("!has(", "!hass("));
    must(serve).proc.kill("SIGHUP");
    for (let i = 0; i < 50 && !must(serve).output().includes("not reloaded"); i++) await sleep(100);
    expect(must(serve).output()).toContain("guard policies not reloaded; the previous ones stay in force");
    expect(await decision()).toBe("deny");
  });

  it("counts reviews and policy results on /metrics", async () => {
    const m = await call(must(serve), { path: "/metrics" });
    expect(m.body).toMatch(/kubetrail_admission_reviews_total\{result="deny"\} [1-9]/);
    expect(m.body).toMatch(
      /kubetrail_admission_policy_results_total\{policy="no-host-network",status="fail"\} [1-9]/,
    );
  });
});
