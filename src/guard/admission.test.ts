import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openFsLog } from "../store/fs/storage.js";
import type { AuditLog } from "../store/types.js";
import { hashLeaf, readHashesChecked, storedHashIndex } from "../tlog/index.js";
import { AdmissionReviewer } from "./admission.js";
import { NamespaceCache } from "./namespaces.js";
import { loadPolicies } from "./policy/load.js";

const dirs: string[] = [];
const logs: AuditLog[] = [];

afterEach(async () => {
  for (const log of logs.splice(0)) await log.close().catch(() => undefined);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function realLog(): Promise<AuditLog> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "guard-admission-"));
  dirs.push(dir);
  const log = await openFsLog(dir, { integrateIntervalMs: 20 });
  logs.push(log);
  return log;
}

const review = (i: number, privileged: boolean) => ({
  apiVersion: "admission.k8s.io/v1",
  kind: "AdmissionReview",
  request: {
    uid: `uid-${i}`,
    kind: { group: "", version: "v1", kind: "Pod" },
    resource: { group: "", version: "v1", resource: "pods" },
    name: `p${i}`,
    namespace: "team-a",
    operation: "CREATE",
    userInfo: { username: "alice", groups: ["devs"] },
    object: {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: `p${i}`, namespace: "team-a" },
      spec: { containers: [{ name: "c", image: "nginx:1", securityContext: { privileged } }] },
    },
  },
});

describe("AdmissionReviewer", () => {
  it("logs each decision durably with the leaf hash of its own bytes, concurrent reviews each at their own index", async () => {
    const log = await realLog();
    const reviewer = new AdmissionReviewer({
      policies: () => loadPolicies([], { builtins: true }),
      writer: log,
      namespaces: new NamespaceCache(),
    });
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) => reviewer.review(review(i, i % 3 === 0))),
    );
    expect(outcomes.map((o) => o.index).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 40 }, (_, i) => i),
    );
    expect(log.size()).toBe(40);
    const checkpoint = await log.waitIntegrated(40);
    expect(checkpoint.size).toBe(40);
    // The log trusts the leaf hashes it is given: the tree's level-0 hashes must be what a
    // verifier recomputes from the stored bytes, and each entry the decision of its review.
    const stored = await readHashesChecked(
      log.hashReader(),
      Array.from({ length: 40 }, (_, i) => storedHashIndex(0, i)),
    );
    let i = 0;
    for await (const e of log.readEntries(0, 40)) {
      expect(Buffer.from(stored[i]!).equals(Buffer.from(hashLeaf(e.data!)))).toBe(true);
      const outcome = outcomes.find((o) => o.index === i)!;
      const logged = JSON.parse(new TextDecoder().decode(e.data!)) as { uid: string };
      expect(logged.uid).toBe(outcome.record.uid);
      i++;
    }
  });

  it("fails the review with the log's error when the decision cannot be made durable", async () => {
    const log = await realLog();
    await log.close();
    const reviewer = new AdmissionReviewer({
      policies: () => loadPolicies([], { builtins: true }),
      writer: log,
      namespaces: new NamespaceCache(),
    });
    await expect(reviewer.review(review(0, false))).rejects.toMatchObject({ code: "closed" });
  });
});
