// The deployment docs say what deploy/ really holds and what an operator must decide: the
// workload kind of the manifests, the webhook modes' trade-off, following the log backend.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

const root = path.resolve(import.meta.dirname, "..");
const read = (f: string) => readFileSync(path.join(root, f), "utf8");

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`## ${heading}\n`);
  if (start === -1) throw new Error(`no section "## ${heading}"`);
  const next = markdown.indexOf("\n## ", start + 1);
  return markdown.slice(start, next === -1 ? undefined : next);
}

describe("deployment docs", () => {
  it("README names the workload kind deploy/kubetrail.yaml holds", () => {
    const kinds = parseAllDocuments(read("deploy/kubetrail.yaml")).map(
      (d) => (d.toJS() as { kind: string }).kind,
    );
    const workload = kinds.find((k) => ["Deployment", "StatefulSet", "DaemonSet"].includes(k));
    expect(workload).toBe("StatefulSet");
    const deploying = section(read("README.md"), "Deploying");
    expect(deploying).toContain(workload);
    for (const other of ["Deployment", "DaemonSet"].filter((k) => k !== workload)) {
      expect(deploying).not.toMatch(new RegExp(`\\b${other}\\b`));
    }
  });

  it("deploy/README explains batch against blocking mode with measured figures, and --follow-audit-log", () => {
    const doc = read("deploy/README.md");
    const modes = section(doc, "Batch or blocking webhook mode");
    expect(modes).toContain("--audit-webhook-mode");
    expect(modes).toMatch(/blocking \| down \| \*\*[\d.]+ s\*\*/);
    expect(modes).toContain("apiserver-modes.js");
    expect(section(doc, "Follow the log backend whenever it is on")).toContain("--follow-audit-log");
  });
});
