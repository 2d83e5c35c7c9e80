// The plugin files users install: deploy/k9s/plugins.yaml validated against K9s's own plugin
// schema (and every $VARIABLE it uses is one K9s substitutes), and deploy/krew/trail.yaml
// validated by krew's rules, its archive rebuilt byte for byte from the repository (sha256 as
// in the manifest) and installed as krew would, then run by a real kubectl as `kubectl trail`.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";
import { afterAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { kubeBinaries } from "./kube/binaries.js";
import { k9sSubstitute } from "./fixtures/kubectl-plugin.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(path.join(tmpdir(), "kubetrail-plugin-files-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The variables K9s sets for a plugin on a resource view (internal/view: k8sEnv, defaultEnv, Table). */
const K9S_VARIABLES = [
  "CONTEXT",
  "CLUSTER",
  "USER",
  "GROUPS",
  "KUBECONFIG",
  "NAMESPACE",
  "NAME",
  "FILTER",
  "RESOURCE_GROUP",
  "RESOURCE_VERSION",
  "RESOURCE_NAME",
];

describe("deploy/k9s/plugins.yaml", () => {
  const doc = YAML.parse(readFileSync(path.join(ROOT, "deploy/k9s/plugins.yaml"), "utf8")) as {
    plugins: Record<string, { scopes: string[]; command: string; args: string[]; shortCut: string }>;
  };

  it("is valid against K9s's plugin schema", () => {
    const schema = JSON.parse(
      readFileSync(path.join(ROOT, "test/fixtures/k9s/plugins.schema.json"), "utf8"),
    ) as object;
    // ajv is CommonJS: its class is the module's default export.
    const ajv = new Ajv.default({ strict: false, allErrors: true });
    const validate = ajv.compile(schema);
    expect(validate(doc), ajv.errorsText(validate.errors)).toBe(true);
    const broken = JSON.parse(JSON.stringify(doc)) as { plugins: Record<string, Record<string, unknown>> };
    delete broken.plugins["kubetrail-history"]?.["command"];
    expect(validate(broken)).toBe(false);
  });

  it("offers history, proof and a subject's activity, with variables K9s knows", () => {
    const all = Object.values(doc.plugins);
    expect(all.filter((p) => p.scopes.includes("all")).map((p) => p.args.join(" "))).toEqual([
      expect.stringContaining("kubectl trail history"),
      expect.stringContaining("kubectl trail proof"),
    ]);
    expect(
      all.some((p) => p.scopes.includes("serviceaccounts") && p.args.join(" ").includes("kubectl trail who")),
    ).toBe(true);
    expect(
      all.some((p) => p.scopes.includes("users") && p.args.join(" ").includes("kubectl trail who")),
    ).toBe(true);
    const env = Object.fromEntries(K9S_VARIABLES.map((v) => [v, "x"]));
    for (const p of all) for (const a of p.args) expect(() => k9sSubstitute(a, env)).not.toThrow();
    // Values reach the shell as positional parameters only: no $VARIABLE inside the script.
    for (const p of all) expect(p.args[1]).not.toMatch(/\$[A-Z]/);
  });
});

/** krew's checks of a plugin manifest (sigs.k8s.io/krew internal/index/validation). */
function krewProblems(name: string, m: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const spec = (m["spec"] ?? {}) as Record<string, unknown>;
  const meta = (m["metadata"] ?? {}) as Record<string, unknown>;
  if (m["apiVersion"] !== "krew.googlecontainertools.github.com/v1alpha2") problems.push("apiVersion");
  if (m["kind"] !== "Plugin") problems.push("kind");
  if (!/^[\w-]+$/.test(name)) problems.push("unsafe plugin name");
  if (meta["name"] !== name) problems.push(`metadata.name is not ${name}`);
  const short = spec["shortDescription"];
  if (typeof short !== "string" || short === "" || /[\r\n]/.test(short)) problems.push("shortDescription");
  if (
    typeof spec["version"] !== "string" ||
    !/^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(spec["version"])
  )
    problems.push("version is not v-prefixed semver");
  const platforms = spec["platforms"];
  if (!Array.isArray(platforms) || platforms.length === 0) problems.push("no platform");
  for (const [i, p] of ((platforms as Record<string, unknown>[]) ?? []).entries()) {
    if (typeof p["uri"] !== "string" || !/^https:\/\//.test(p["uri"])) problems.push(`platforms[${i}].uri`);
    if (typeof p["sha256"] !== "string" || !/^[a-f0-9]{64}$/.test(p["sha256"]))
      problems.push(`platforms[${i}].sha256`);
    if (typeof p["bin"] !== "string" || p["bin"] === "") problems.push(`platforms[${i}].bin`);
    const files = p["files"] as { from?: string; to?: string }[] | undefined;
    if (files !== undefined && (files.length === 0 || files.some((f) => !f.from || !f.to)))
      problems.push(`platforms[${i}].files`);
    const sel = (p["selector"] ?? null) as {
      matchLabels?: Record<string, string>;
      matchExpressions?: { key: string }[];
    } | null;
    if (sel === null || (sel.matchLabels === undefined && (sel.matchExpressions ?? []).length === 0))
      problems.push(`platforms[${i}].selector`);
    const keys = [...Object.keys(sel?.matchLabels ?? {}), ...(sel?.matchExpressions ?? []).map((e) => e.key)];
    for (const k of keys) if (k !== "os" && k !== "arch") problems.push(`platforms[${i}].selector key ${k}`);
  }
  return problems;
}

describe("deploy/krew/trail.yaml", () => {
  const manifest = YAML.parse(readFileSync(path.join(ROOT, "deploy/krew/trail.yaml"), "utf8")) as Record<
    string,
    unknown
  >;
  const platform = (manifest["spec"] as { platforms: Record<string, unknown>[] }).platforms[0] as {
    sha256: string;
    bin: string;
    files: { from: string; to: string }[];
  };

  it("passes krew's manifest checks, and fails them when broken", () => {
    expect(krewProblems("trail", manifest)).toEqual([]);
    expect(krewProblems("kubetrail", manifest)).toContain("metadata.name is not kubetrail");
    const bad = JSON.parse(JSON.stringify(manifest)) as {
      spec: { version: string; platforms: { sha256: string }[] };
    };
    bad.spec.version = "0.1";
    (bad.spec.platforms[0] as { sha256: string }).sha256 = "abc";
    expect(krewProblems("trail", bad)).toEqual(["version is not v-prefixed semver", "platforms[0].sha256"]);
  });

  it("names the sha256 of the archive the repository builds, installs as krew does and runs under kubectl", () => {
    const archive = path.join(work, "kubectl-trail.tar.gz");
    execFileSync("bash", [path.join(ROOT, "scripts/krew-archive.sh"), archive]);
    expect(createHash("sha256").update(readFileSync(archive)).digest("hex")).toBe(platform.sha256);
    // krew: unpack, copy `files`, link `bin` into its bin directory.
    const unpacked = path.join(work, "unpacked");
    const installed = path.join(work, "krew", "store", "trail", "v0.1.0");
    const krewBin = path.join(work, "krew", "bin");
    for (const d of [unpacked, installed, krewBin]) mkdirSync(d, { recursive: true });
    execFileSync("tar", ["-xzf", archive, "-C", unpacked]);
    for (const f of platform.files)
      execFileSync("cp", ["-p", path.join(unpacked, f.from), path.join(installed, f.to)]);
    accessSync(path.join(installed, platform.bin), constants.X_OK);
    symlinkSync(path.join(installed, platform.bin), path.join(krewBin, "kubectl-trail"));
    // The npm package's bin, as `npm install -g kubetrail` links it.
    const npmBin = path.join(work, "npm-bin");
    mkdirSync(npmBin);
    symlinkSync(path.join(ROOT, "dist/cli/main.js"), path.join(npmBin, "kubetrail"));
    const kubectl = kubeBinaries().kubectl;
    const PATH = [krewBin, npmBin, path.dirname(process.execPath), "/usr/bin", "/bin"].join(path.delimiter);
    const list = spawnSync(kubectl, ["plugin", "list"], { env: { PATH, HOME: work }, encoding: "utf8" });
    expect(list.stdout).toContain(path.join(krewBin, "kubectl-trail"));
    const help = spawnSync(kubectl, ["trail", "history", "--help"], {
      env: { PATH, HOME: work },
      encoding: "utf8",
    });
    expect(help.stderr).toBe("");
    expect(help.stdout).toMatch(/Usage: kubectl trail history \[options\] <object>/);
    const without = spawnSync(kubectl, ["trail", "--help"], {
      env: {
        PATH: [krewBin, path.dirname(process.execPath), "/usr/bin", "/bin"].join(path.delimiter),
        HOME: work,
      },
      encoding: "utf8",
    });
    expect(without.status).not.toBe(0);
    expect(without.stderr).toContain(
      "kubectl trail: needs the kubetrail package and Node.js 20: npm install -g kubetrail",
    );
  });
});
