import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { namespaceFile, readNamespaceFile, writeNamespaceFile } from "./namespace-file.js";
import { NamespaceCache } from "./namespaces.js";
import type { AdmissionRequest } from "./types.js";

const nsObject = (name: string, labels: Record<string, string>) => ({
  apiVersion: "v1",
  kind: "Namespace",
  metadata: { name, labels },
});

function event(
  verb: string,
  level: "Request" | "RequestResponse",
  name: string,
  labels: Record<string, string>,
  code = 200,
) {
  return {
    level,
    stage: "ResponseComplete",
    verb,
    objectRef: { resource: "namespaces", name, apiVersion: "v1" },
    responseStatus: { code },
    requestObject: verb === "patch" ? { metadata: { labels } } : nsObject(name, labels),
    ...(level === "RequestResponse" ? { responseObject: nsObject(name, { ...labels, merged: "yes" }) } : {}),
  };
}

describe("what guard learns of namespaces", () => {
  it("an unknown namespace has only the name label; cluster-scoped requests have none", () => {
    const c = new NamespaceCache();
    expect(c.object("team-a")).toEqual({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "team-a", labels: { "kubernetes.io/metadata.name": "team-a" } },
    });
    expect(c.object("")).toBeNull();
  });

  it("learns from successful audit events with a body: the response when there is one, else a create's or update's request", () => {
    const c = new NamespaceCache();
    c.observeAuditEvent(event("create", "Request", "a", { env: "prod" }));
    expect(c.object("a")?.["metadata"]).toMatchObject({ labels: { env: "prod" } });
    c.observeAuditEvent(event("patch", "RequestResponse", "a", { env: "dev" }));
    expect(c.object("a")?.["metadata"]).toMatchObject({ labels: { env: "dev", merged: "yes" } });
    // A patch at Request level carries only the patch: nothing to learn.
    c.observeAuditEvent(event("patch", "Request", "a", { env: "test" }));
    expect(c.object("a")?.["metadata"]).toMatchObject({ labels: { env: "dev" } });
    // A refused request changed nothing.
    c.observeAuditEvent(event("update", "Request", "a", { env: "evil" }, 403));
    expect(c.object("a")?.["metadata"]).toMatchObject({ labels: { env: "dev" } });
  });

  it("learns from admitted reviews of namespaces, not from denied ones", () => {
    const c = new NamespaceCache();
    const review = (labels: Record<string, string>): AdmissionRequest => ({
      uid: "u",
      kind: { group: "", version: "v1", kind: "Namespace" },
      resource: { group: "", version: "v1", resource: "namespaces" },
      subResource: "",
      name: "b",
      namespace: "",
      operation: "CREATE",
      userInfo: { username: "x", groups: [] },
      object: nsObject("b", labels),
      oldObject: null,
      dryRun: false,
    });
    c.observeAdmission(review({ env: "prod" }), false);
    expect(c.has("b")).toBe(false);
    c.observeAdmission(review({ env: "prod" }), true);
    expect(c.object("b")?.["metadata"]).toMatchObject({ labels: { env: "prod" } });
  });

  it("survives a restart in DATA/guard/namespaces.json; a damaged file is reported and replaced", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "guard-ns-"));
    try {
      const file = namespaceFile(dir);
      const c = new NamespaceCache();
      c.set({ name: "a", labels: { env: "prod" }, annotations: {} });
      await writeNamespaceFile(file, c.snapshot());
      expect(await readNamespaceFile(file, () => {})).toEqual([
        { name: "a", labels: { env: "prod" }, annotations: {} },
      ]);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, "{ not json");
      const damaged: string[] = [];
      expect(await readNamespaceFile(file, (why) => damaged.push(why))).toEqual([]);
      expect(damaged[0]).toContain("namespaces.json");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
