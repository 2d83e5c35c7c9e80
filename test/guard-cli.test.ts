// `kubetrail guard check|test|replay` as users run them: real files, real child processes, a
// real data directory filled by `kubetrail import`.
import { createRequire } from "node:module";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import AjvDraft04 from "ajv-draft-04";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeBase64, hashLeaf, openCheckpoint, NoteVerifier, verifyInclusion } from "../src/tlog/index.js";
import { runCli } from "./fixtures/cli.js";
import { fixture } from "./fixtures/guard/files.js";
import { removeDir, requireBuiltCli, tempDir } from "./faults/serve-process.js";

let dir: string;

const POLICIES = readFileSync(fixture("pss-and-team-label.yaml"), "utf8");

const MANIFESTS = `apiVersion: v1
kind: Pod
metadata:
  name: privileged
spec:
  containers:
    - name: c
      image: nginx:1.25
      securityContext:
        privileged: true
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.25
---
apiVersion: v1
kind: Pod
metadata:
  name: fine
spec:
  containers:
    - name: c
      image: nginx:1.25
`;

function write(rel: string, text: string): string {
  const file = path.join(dir, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

beforeAll(() => {
  requireBuiltCli();
  dir = tempDir("guard-cli");
  write("policies/policies.yaml", POLICIES);
  write("manifests/app.yaml", MANIFESTS);
});
afterAll(() => removeDir(dir));

/** `guard check` over the test manifests with the test policies, and more flags. */
const checkArgs = (...extra: string[]) => [
  "guard",
  "check",
  "-f",
  path.join(dir, "manifests"),
  "-p",
  path.join(dir, "policies"),
  ...extra,
];

describe("guard check", () => {
  it("lists every violation with file, line, policy, effect and field; exit 1 when an enforce policy fails", async () => {
    const r = await runCli(checkArgs("--no-builtins"));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(
      /manifests\/app\.yaml:1 +Pod\/default\/privileged +pss +deny +privileged +spec\.containers\[0\]\.securityContext\.privileged/,
    );
    expect(r.stdout).toMatch(
      /manifests\/app\.yaml:12 +Deployment\/default\/web +team-label +warn +validations\[0\] +metadata\.labels +deployments need a team label/,
    );
    expect(r.stdout).toContain("3 documents: 3 checked, 0 skipped; 1 denied, 1 warned");
  });

  it("exits 0 when only warn and audit policies fail", async () => {
    const file = write("warn-only.yaml", MANIFESTS.split("---")[1]!);
    const r = await runCli(["guard", "check", "-f", file, "-p", path.join(dir, "policies")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("1 warned");
  });

  it("-o json is complete and deterministic", async () => {
    const args = checkArgs("-o", "json");
    const [a, b] = [await runCli(args), await runCli(args)];
    expect(a.stdout).toBe(b.stdout);
    const report = JSON.parse(a.stdout) as {
      summary: { results: Record<string, number> };
      documents: { name: string; line: number; result: string }[];
    };
    expect(report.documents.map((d) => [d.name, d.line, d.result])).toEqual([
      ["privileged", 1, "deny"],
      ["web", 12, "warn"],
      ["fine", 23, "audit"],
    ]);
  });

  it("writes valid SARIF 2.1.0 with the file and line of each failing document, and JUnit XML", async () => {
    const sarifFile = path.join(dir, "out.sarif");
    const junitFile = path.join(dir, "out.xml");
    const r = await runCli(checkArgs("--sarif", sarifFile, "--junit", junitFile));
    expect(r.code).toBe(1);
    const sarif = JSON.parse(readFileSync(sarifFile, "utf8")) as {
      runs: {
        results: {
          ruleId: string;
          level: string;
          locations: {
            physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } };
          }[];
        }[];
      }[];
    };
    const require = createRequire(import.meta.url);
    const schema = JSON.parse(
      readFileSync(require.resolve("@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json"), "utf8"),
    ) as object;
    const validate = new AjvDraft04.default({
      strict: false,
      allErrors: true,
      unicodeRegExp: false,
      validateFormats: false,
    }).compile(schema);
    expect(validate(sarif), JSON.stringify(validate.errors)).toBe(true);
    const results = sarif.runs[0]!.results;
    const denied = results.find((x) => x.ruleId === "pss/privileged");
    expect(denied?.level).toBe("error");
    expect(denied?.locations[0]!.physicalLocation.region.startLine).toBe(1);
    expect(denied?.locations[0]!.physicalLocation.artifactLocation.uri).toMatch(/manifests\/app\.yaml$/);
    expect(
      results.find((x) => x.ruleId === "team-label/validations[0]")?.locations[0]!.physicalLocation.region
        .startLine,
    ).toBe(12);
    const junit = readFileSync(junitFile, "utf8");
    expect(junit).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="kubetrail guard check" tests="\d+" failures="1"/,
    );
    expect(junit).toContain(
      '<failure message="1 violation(s) of enforce policy pss" type="enforce">spec.containers[0].securityContext.privileged: container &quot;c&quot; must not set securityContext.privileged=true</failure>',
    );
  });

  it("reads Helm's rendered output on stdin, keeping each template's name", async () => {
    const helm = `---\n# Source: app/templates/pod.yaml\n${MANIFESTS.split("---")[0]}---\n# Source: app/templates/empty.yaml\n`;
    const r = await runCli(
      ["guard", "check", "-f", "-", "-p", path.join(dir, "policies"), "-o", "json"],
      helm,
    );
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { documents: { file: string; line: number; template: string }[] };
    expect(report.documents).toHaveLength(1);
    expect(report.documents[0]).toMatchObject({
      file: "<stdin>",
      line: 3,
      template: "app/templates/pod.yaml",
    });
  });

  it("refuses a bad manifest or policy with its file and line (exit 2)", async () => {
    const bad = write("bad/bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x\n");
    const r = await runCli(["guard", "check", "-f", bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:\d+: /);
    const badPolicy = write(
      "badpolicy/p.yaml",
      'apiVersion: kubetrail.dev/v1\nkind: GuardPolicy\nmetadata: {name: p}\nspec:\n  match: {resources: [{kinds: [Pod]}]}\n  validations: [{expression: "object.?spec"}]\n',
    );
    const p = await runCli(["guard", "check", "-f", path.join(dir, "manifests"), "-p", badPolicy]);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain(
      "p.yaml:1: GuardPolicy p: spec.validations[0].expression: cannot be evaluated: optional syntax",
    );
  });
});

describe("guard test", () => {
  it("passes when every expected result holds, fails (exit 1) naming what did not", async () => {
    write(
      "tests/kubetrail-test.yaml",
      `apiVersion: kubetrail.dev/v1
kind: GuardTest
metadata: {name: pss-and-labels}
spec:
  policies: [../policies]
  resources: [../manifests/app.yaml]
  results:
    - {policy: pss, resources: [privileged], result: fail, checks: [privileged]}
    - {policy: pss, resources: [Pod/fine, Deployment/web], result: pass}
    - {policy: team-label, resources: [web], result: fail}
    - {policy: team-label, resources: [fine], result: skip}
`,
    );
    const ok = await runCli(["guard", "test", path.join(dir, "tests")]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain("5 assertions: 5 passed, 0 failed");
    write(
      "tests-bad/kubetrail-test.yaml",
      `apiVersion: kubetrail.dev/v1
kind: GuardTest
metadata: {name: wrong}
spec:
  policies: [../policies]
  resources: [../manifests/app.yaml]
  results:
    - {policy: pss, resources: [fine], result: fail}
    - {policy: pss, resources: [privileged], result: fail, checks: [hostNamespaces]}
    - {policy: pss, resources: [nothere], result: pass}
`,
    );
    const bad = await runCli(["guard", "test", path.join(dir, "tests-bad"), "-o", "json"]);
    expect(bad.code).toBe(1);
    const items = (
      JSON.parse(bad.stdout) as {
        items: { resource: string; ok: boolean; actual: string; detail?: string }[];
      }
    ).items;
    expect(items.map((i) => [i.resource, i.ok, i.actual])).toEqual([
      ["fine", false, "pass"],
      ["privileged", false, "fail"],
      ["nothere", false, "missing"],
    ]);
    expect(items[1]!.detail).toContain("checks that did not fail: hostNamespaces");
  });

  it("runs a test kept under the policies it tests, as docs/guardrails.md lays it out", async () => {
    // policies/tests/ holds the test and its resources; `policies: [..]` reads the whole tree,
    // whose test documents and resources are not policies.
    write("colocated/policies.yaml", POLICIES);
    write("colocated/tests/resources.yaml", MANIFESTS);
    write(
      "colocated/tests/kubetrail-test.yaml",
      `apiVersion: kubetrail.dev/v1
kind: GuardTest
metadata: {name: colocated}
spec:
  policies: [..]
  resources: [resources.yaml]
  results:
    - {policy: pss, resources: [privileged], result: fail, checks: [privileged]}
    - {policy: pss, resources: [fine], result: pass}
`,
    );
    const r = await runCli(["guard", "test", path.join(dir, "colocated")]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("2 assertions: 2 passed, 0 failed");
    expect(r.code).toBe(0);
    // The same tree loads as policies (guard check, serve --guard-policies): its tests are left out.
    const manifests = path.join(dir, "manifests");
    const check = await runCli(["guard", "check", "-f", manifests, "-p", path.join(dir, "colocated")]);
    expect(check.stderr).toBe("");
    expect(check.code).toBe(1); // the privileged pod fails the enforce policy
    // Anything else in the tree that is not a policy is still refused.
    write("colocated/stray.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stray}\n");
    const stray = await runCli(["guard", "test", path.join(dir, "colocated")]);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toContain("ConfigMap stray: not a policy");
  });
});

function auditEvent(
  n: number,
  verb: string,
  level: string,
  object: Record<string, unknown> | undefined,
  user = "alice",
  extra: Record<string, unknown> = {},
) {
  const t = new Date(Date.now() - 60_000 * (100 - n))
    .toISOString()
    .replace("Z", "000Z")
    .replace(/\.(\d{3})000Z$/, ".$1000Z");
  const meta = (object?.["metadata"] ?? {}) as { name?: string; namespace?: string };
  return JSON.stringify({
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level,
    auditID: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    stage: "ResponseComplete",
    requestURI: `/api/v1/namespaces/${meta.namespace ?? "team-a"}/pods`,
    verb,
    user: { username: user, groups: ["system:authenticated"] },
    sourceIPs: ["10.0.0.1"],
    objectRef: { resource: "pods", namespace: meta.namespace ?? "team-a", name: meta.name, apiVersion: "v1" },
    responseStatus: { metadata: {}, code: 201 },
    ...(level !== "Metadata" && object ? { requestObject: object } : {}),
    requestReceivedTimestamp: t,
    stageTimestamp: t,
    ...extra,
  });
}

const podObject = (name: string, privileged: boolean, namespace = "team-a") => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace },
  spec: { containers: [{ name: "c", image: "nginx:1", securityContext: { privileged } }] },
});

describe("guard replay", () => {
  it("lists what a candidate policy would have denied, with log index and verified inclusion proof, and refuses events below Request level", async () => {
    const lines = [
      auditEvent(1, "create", "Request", podObject("p1", true)),
      auditEvent(2, "create", "Request", podObject("p2", false)),
      auditEvent(3, "create", "Metadata", podObject("p3", true)),
      auditEvent(4, "get", "Request", undefined),
      auditEvent(5, "update", "RequestResponse", podObject("p4", true, "team-b"), "bob"),
      auditEvent(6, "patch", "Request", { spec: { containers: [] } }),
      auditEvent(7, "create", "Metadata", podObject("p5", true)),
    ];
    const log = write("audit.log", lines.join("\n") + "\n");
    const data = path.join(dir, "data");
    const imp = await runCli(["import", "--data", data, log]);
    expect(imp.code, imp.stderr).toBe(0);
    const replaySince = (since: string, ...extra: string[]) =>
      runCli([
        "guard",
        "replay",
        "--data",
        data,
        "--since",
        since,
        "--policy",
        path.join(dir, "policies"),
        ...extra,
      ]);
    const replay = (...extra: string[]) => replaySince("30d", ...extra);
    const r = await replay("-o", "json");
    expect(r.code, r.stderr).toBe(0);
    // Written finding by finding from the spool, yet the same document JSON.stringify makes.
    expect(r.stdout).toBe(JSON.stringify(JSON.parse(r.stdout), null, 2) + "\n");
    const report = JSON.parse(r.stdout) as {
      summary: {
        candidates: number;
        evaluated: number;
        belowRequestLevel: number;
        findings: number;
        skipped: Record<string, number>;
        byPolicy: Record<string, { deny: number }>;
        byNamespace: Record<string, { deny: number }>;
        byUser: Record<string, { deny: number }>;
        checkpointSize: number;
      };
      findings: { index: number; object: { name: string }; effects: string[]; inclusionProof: string[] }[];
    };
    expect(report.summary).toMatchObject({ candidates: 6, evaluated: 3, belowRequestLevel: 2, findings: 2 });
    expect(Object.values(report.summary.skipped)).toEqual([1]);
    expect(report.summary.byPolicy).toEqual({ pss: { deny: 2, warn: 0, audit: 0 } });
    expect(report.summary.byNamespace).toEqual({
      "team-a": { deny: 1, warn: 0, audit: 0 },
      "team-b": { deny: 1, warn: 0, audit: 0 },
    });
    expect(report.summary.byUser).toEqual({
      alice: { deny: 1, warn: 0, audit: 0 },
      bob: { deny: 1, warn: 0, audit: 0 },
    });
    expect(report.findings.map((f) => [f.index, f.object.name, f.effects])).toEqual([
      [0, "p1", ["deny"]],
      [4, "p4", ["deny"]],
    ]);
    // The proof checks against the signed checkpoint, independently of the CLI.
    const checkpoint = readFileSync(path.join(data, "checkpoint"), "utf8");
    const key = readFileSync(path.join(data, "keys", "verifier.key"), "utf8").trim();
    const cp = openCheckpoint(checkpoint, NoteVerifier.fromKey(key));
    const entries = readFileSync(path.join(data, "tile", "entries", "000.open"), "utf8").split("\n");
    for (const f of report.findings) {
      const leaf = hashLeaf(Buffer.from(entries[f.index]!, "utf8"));
      expect(
        verifyInclusion(
          leaf,
          f.index,
          cp.size,
          f.inclusionProof.map((h) => decodeBase64(h)!),
          cp.rootHash,
        ),
      ).toBe(true);
    }
    // The built-ins run in audit mode: what they would have recorded is listed too, as audit.
    const withBuiltins = JSON.parse((await replay("--builtins", "-o", "json")).stdout) as typeof report;
    // p2 is not privileged (the candidate lets it through) but sets none of what the restricted
    // profile asks and pins no image digest.
    expect(withBuiltins.findings.map((f) => [f.index, f.object.name, f.effects])).toEqual([
      [0, "p1", ["deny", "audit"]],
      [1, "p2", ["audit"]],
      [4, "p4", ["deny", "audit"]],
    ]);
    expect(withBuiltins.summary.byPolicy).toMatchObject({
      pss: { deny: 2, warn: 0, audit: 0 },
      "pss-restricted": { deny: 0, warn: 0, audit: 3 },
    });
    expect(withBuiltins.summary.byNamespace).toEqual({
      "team-a": { deny: 1, warn: 0, audit: 1 },
      "team-b": { deny: 1, warn: 0, audit: 0 },
    });
    // The events are over an hour old: nothing to list, in either format.
    const recent = (...extra: string[]) => replaySince("1h", ...extra);
    const empty = await recent("-o", "json");
    expect(JSON.parse(empty.stdout)).toMatchObject({ findings: [], summary: { candidates: 0 } });
    expect(empty.stdout).toBe(JSON.stringify(JSON.parse(empty.stdout), null, 2) + "\n");
    expect((await recent()).stdout).toMatch(/^Nothing would have been denied, warned or recorded\.\n/);
    const table = await replay();
    expect(table.stdout).toContain("2 refused: logged below Request level");
    expect(table.stdout).toMatch(
      /^0 +\S+ +alice +CREATE +pods team-a\/p1 +pss +deny +container "c" must not set securityContext\.privileged=true/m,
    );
  });
});
