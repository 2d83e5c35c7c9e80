// The web UI on a real apiserver's events: a kube-apiserver v1.20.2 audits to a live
// `kubetrail serve` (wired as `kubetrail apiserver-config` says), and a namespace-limited
// Kubernetes user signs in to the UI in Debian's Chromium with their token. The page must show
// that user only their namespace's requests, each verified in the browser against the signed
// checkpoint, and follow a Deployment's real history (a create and a `kubectl set image` patch).
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { apiserverFlags } from "../../src/cli/apiserver-config.js";
import { launchBrowser, type Browser } from "../../bench/lib/browser.js";
import {
  call,
  removeDir,
  requireBuiltCli,
  type Serve,
  startServe,
  tempDir,
} from "../faults/serve-process.js";
import { type Cluster, freePort, startCluster } from "./cluster.js";
import { apiserverConfig, pairedServeFlags } from "./kubetrail-pairing.js";
import { readFileSync } from "node:fs";

// What the functions run inside the page use of the DOM (this project compiles without it).
declare const document: { querySelectorAll(selector: string): { length: number } };

const DEV = "dev-token-0123456789abcdef"; // group team-a-devs: reads team-a only

let work: string;
let cfg: string;
let port: number;
let cluster: Cluster;
let serve: Serve | undefined;
let browser: Browser;
let page: Page;

function startKubetrail(extra: string[]): Promise<Serve> {
  return startServe(path.join(work, "data"), [...pairedServeFlags(cfg), "--no-detect", ...extra], {
    ca: readFileSync(path.join(cfg, "ca.crt")),
    listen: `127.0.0.1:${port}`,
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function kubectl(...args: string[]): Promise<void> {
  const r = await cluster.kubectl(args);
  expect(r.code, `kubectl ${args.join(" ")}: ${r.stderr}`).toBe(0);
}

/** How many requests matching `query` kubetrail has indexed, as the full-log reader sees them. */
async function indexed(query: string): Promise<number> {
  const s = serve as Serve;
  const r = await call(s, { path: `/v1/events?limit=1000&${query}`, token: s.readToken });
  return r.status === 200 ? (JSON.parse(r.body) as { items: unknown[] }).items.length : 0;
}

beforeAll(async () => {
  requireBuiltCli();
  work = tempDir("kube-ui");
  port = await freePort();
  cfg = await apiserverConfig(work, port);
  // kubetrail first, so the apiserver's audit webhook has somewhere to go.
  serve = await startKubetrail([]);
  cluster = await startCluster({
    apiserverArgs: [
      ...apiserverFlags(cfg).filter((f) => !f.startsWith("--audit-webhook-batch-max-wait")),
      "--audit-webhook-batch-max-wait=1s",
    ],
    tokens: [{ token: DEV, user: "dev", groups: ["team-a-devs"] }],
  });
  // Restarted with Kubernetes identities on, reviewing with the harness's admin credentials
  // (the apiserver retries its audit batches meanwhile).
  expect(await serve.kill("SIGTERM")).toBe(0);
  serve = await startKubetrail([
    "--kube-auth",
    "--kubeconfig",
    cluster.adminKubeconfig,
    "--kube-auth-cache-ttl",
    "2s",
  ]);
  await cluster.apply(
    YAML.stringify({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "kubetrail-namespace-reader" },
      rules: [{ apiGroups: ["kubetrail.dev"], resources: ["auditevents"], verbs: ["get", "list"] }],
    }),
  );
  await kubectl("create", "namespace", "team-a");
  await kubectl("create", "namespace", "team-b");
  await kubectl("-n", "team-a", "create", "deployment", "web", "--image=nginx:1.25");
  await kubectl("-n", "team-b", "create", "deployment", "web", "--image=nginx:1.25");
  await kubectl("-n", "team-a", "set", "image", "deployment/web", "nginx=nginx:1.26");
  await cluster.grant({ group: "team-a-devs" }, "kubetrail-namespace-reader", "team-a");
  // The changes of both Deployments have reached kubetrail's index.
  await waitFor(
    "the Deployments' changes in kubetrail",
    async () =>
      (await indexed("resource=deployments.apps&name=web&namespace=team-a&verb=create,patch")) >= 2 &&
      (await indexed("resource=deployments.apps&name=web&namespace=team-b&verb=create")) >= 1,
  );
  // RBAC's informer cache has the RoleBinding (kubetrail's refusals last 2 s here).
  const s = serve;
  await waitFor(
    "the grant to take effect",
    async () => (await call(s, { path: "/v1/events?namespace=team-a&limit=1", token: DEV })).status === 200,
  );
  browser = await launchBrowser();
  page = browser.page;
}, 300_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail") console.log("page problems:", browser?.problems);
});

afterAll(async () => {
  await browser?.close();
  await serve?.kill("SIGTERM");
  await cluster?.stop();
  if (work) removeDir(work);
});

describe("the web UI on a real apiserver's events", () => {
  it("shows a namespace-limited user signed in with a Kubernetes token only their namespace, verified", async () => {
    const s = serve as Serve;
    await page.goto(`${s.url}/`);
    await page.getByLabel("Token", { exact: true }).fill(DEV);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("navigation", { name: "Pages" }).waitFor();
    await expect(page.locator(".who").innerText()).resolves.toContain("dev");

    await page.goto(`${s.url}/ui/?since=1h&resource=deployments.apps`);
    const rows = page.locator("[data-testid=events] tbody tr");
    await rows.first().waitFor();
    await page.waitForFunction(
      () => document.querySelectorAll("[data-testid=events] .mark.pending").length === 0,
    );
    const objects = await page.locator("[data-testid=events] tbody tr td:nth-child(6)").allInnerTexts();
    expect(objects.length).toBeGreaterThanOrEqual(2);
    expect(objects.every((o) => o.startsWith("team-a/"))).toBe(true);
    const marks = await page
      .locator("[data-testid=events] .mark")
      .evaluateAll((els) =>
        els.map((e) =>
          (e as unknown as { getAttribute(n: string): string | null }).getAttribute("aria-label"),
        ),
      );
    expect(marks.length).toBe(objects.length);
    expect(marks.every((m) => m?.endsWith("verified"))).toBe(true);
    // The facets count team-a only: team-b's Deployment exists in the log but is not this user's.
    await page.locator("button[data-facet=namespace]").first().waitFor();
    expect(
      await page
        .locator("button[data-facet=namespace]")
        .evaluateAll((els) =>
          els.map((e) =>
            (e as unknown as { getAttribute(n: string): string | null }).getAttribute("data-value"),
          ),
        ),
    ).toEqual(["team-a"]);

    // The Deployment's history as the apiserver recorded it: created, then its image patched.
    await page.goto(`${s.url}/ui/history?object=deployment%2Fweb&namespace=team-a`);
    const history = page.getByTestId("history");
    await history.locator("> li").nth(1).waitFor();
    const text = await history.innerText();
    expect(text).toMatch(/create by kube-harness-admin/);
    expect(text).toMatch(/patch by kube-harness-admin/);
    expect(text).toContain("nginx:1.26");
    await page.waitForFunction(
      () =>
        document.querySelectorAll("[data-testid=history] .mark.ok").length ===
        document.querySelectorAll("[data-testid=history] > li").length,
    );
    // Another namespace's history is refused with the missing permission named.
    await page.goto(`${s.url}/ui/history?object=deployment%2Fweb&namespace=team-b`);
    await expect(page.locator("p.error[role=alert]").innerText()).resolves.toMatch(
      /may not list auditevents\.kubetrail\.dev in namespace "team-b"/,
    );
    expect(browser.problems.filter((p) => !/403/.test(p))).toEqual([]);
  });
});
