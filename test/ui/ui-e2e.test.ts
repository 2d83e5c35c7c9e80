// The web UI end to end: a real `serve` fed through its webhook with generated and recorded
// events, driven in Debian's Chromium. Each test does what an investigator or an auditor
// would, and checks what the page shows — including that tampering is named, never verified.
// Screenshots of each page go to .tmp/ui-screenshots, and to docs/ui with
// KUBETRAIL_UI_SCREENSHOTS=docs.
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FsLayout } from "../../src/store/fs/layout.js";
import { generateNoteKey } from "../../src/tlog/index.js";
import { request } from "../fixtures/audit/request.js";
import { tempDir } from "../fixtures/audit/temp-dir.js";
import { editStoredBundle } from "../fixtures/stored-bundle.js";
import { launchBrowser, type Browser } from "../../bench/lib/browser.js";
import { sendCorpus } from "./corpus.js";
import { startUiServer, type UiServer } from "./server.js";

// What the functions run inside the page (waitForFunction, evaluate) use of the DOM; declared
// here because this project compiles without the DOM library.
declare const document: {
  querySelectorAll(selector: string): { length: number };
  querySelector(selector: string): { textContent: string | null } | null;
  body: object;
};
declare function getComputedStyle(el: object): { backgroundColor: string };

const SEED = 2626;
const SHOTS = path.resolve(".tmp/ui-screenshots");
const DOCS = path.resolve("docs/ui");

let server: UiServer;
let browser: Browser;
let page: Page;
/** A checkpoint signed early on, replayed later to look like a rolled-back log. */
let earlyLog: string;

async function shot(name: string, on: Page = page): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await on.screenshot({ path: file });
  if (process.env["KUBETRAIL_UI_SCREENSHOTS"] === "docs") {
    mkdirSync(DOCS, { recursive: true });
    copyFileSync(file, path.join(DOCS, `${name}.png`));
  }
}

async function api<T>(p: string): Promise<T> {
  const r = await request(server.port, {
    path: p,
    headers: { Authorization: `Bearer ${server.readToken}` },
    ca: server.ca,
  });
  if (r.status !== 200) throw new Error(`${p}: ${r.status} ${r.body}`);
  return JSON.parse(r.body) as T;
}

interface Proven {
  index: number;
  entry: string;
}

async function login(on: Page = page): Promise<void> {
  await on.goto(`${server.url}/`);
  await on.getByLabel("Token", { exact: true }).fill(server.readToken);
  await on.getByRole("button", { name: "Sign in" }).click();
  await on.getByRole("navigation", { name: "Pages" }).waitFor();
}

async function open(to: string): Promise<void> {
  await page.goto(`${server.url}/ui${to}`);
  await page.getByRole("navigation", { name: "Pages" }).waitFor();
}

/** The integrity page's verdict, once it has settled. */
async function trustState(): Promise<string> {
  await page.waitForFunction(() => {
    const t = document.querySelector("[data-testid=trust-state]")?.textContent ?? "Checking";
    return !t.startsWith("Checking");
  });
  return page.getByTestId("trust-state").innerText();
}

/** Waits until every row's proof has been checked and returns the marks by log index. */
async function marks(): Promise<Map<number, string>> {
  const rows = page.locator("[data-testid=events] tbody tr");
  await rows.first().waitFor();
  await page.waitForFunction(
    () => document.querySelectorAll("[data-testid=events] .mark.pending").length === 0,
  );
  const out = new Map<number, string>();
  for (const row of await rows.all()) {
    const index = Number(await row.getAttribute("data-index"));
    out.set(index, (await row.locator(".mark").getAttribute("aria-label")) ?? "");
  }
  return out;
}

async function columnValues(column: number): Promise<string[]> {
  return page.locator(`[data-testid=events] tbody tr td:nth-child(${column})`).allInnerTexts();
}

beforeAll(async () => {
  console.log(`ui e2e seed ${SEED}`);
  server = await startUiServer(tempDir("kubetrail-ui-e2e-"));
  earlyLog = (await request(server.port, { path: "/ui/api/log", ca: server.ca })).body;
  const sent = await sendCorpus(server.port, server.ingestToken, server.ca, {
    seed: SEED,
    generated: 8000,
    nowMs: Date.now(),
  });
  console.log(`sent ${sent.events} events`);
  browser = await launchBrowser();
  page = browser.page;
}, 180_000);

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail") {
    await shot(`failed-${ctx.task.name.replace(/\W+/g, "-")}`).catch(() => undefined);
    console.log("page problems:", browser?.problems);
  }
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe("web UI", () => {
  it("signs in with a read token into a strict, HttpOnly session and shows the timeline", async () => {
    const first = await page.goto(`${server.url}/`);
    expect(first?.url()).toBe(`${server.url}/ui/`);
    const csp = (await first?.allHeaders())?.["content-security-policy"] ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    await shot("login");
    await page.getByLabel("Token", { exact: true }).fill("not-the-token-at-all");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert").innerText()).resolves.toContain("not accepted");
    // The refused login's 401 is the one error the console may show.
    expect(browser.problems).toEqual([expect.stringContaining("401")]);
    browser.problems.length = 0;
    await login();
    const cookies = await browser.context.cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly, c.secure, c.sameSite])).toEqual([
      ["__Host-kubetrail-session", true, true, "Strict"],
    ]);
    await page.getByTestId("total").filter({ hasText: "requests" }).waitFor();
    const m = await marks();
    expect(m.size).toBeGreaterThan(10);
    expect([...m.values()].every((v) => v.endsWith("verified"))).toBe(true);
    expect(await page.getByTestId("trust-banner").innerText()).toContain("No verifier key pinned");
    await shot("timeline");
    // Only this origin's files ran: a CSP violation or script error would be reported here.
    expect(browser.problems).toEqual([]);
  });

  it("filters by clicking a facet and by the filter language, with the CLI's errors", async () => {
    await open("/?since=24h");
    await page.locator("button[data-facet=verb][data-value=delete]").click();
    await page.waitForURL(/verb=delete/);
    await expect(page.getByLabel("Filter").inputValue()).resolves.toBe("since=24h verb=delete");
    await marks();
    const verbs = await columnValues(4);
    expect(verbs.length).toBeGreaterThan(0);
    expect(new Set(verbs)).toEqual(new Set(["delete"]));
    // The total comes with the stats, which may land after the rows: wait for it to settle.
    const fromApi = await api<{ total: number }>("/v1/stats?since=24h&verb=delete");
    await expect
      .poll(() => page.getByTestId("total").innerText(), { timeout: 10_000 })
      .toBe(`${fromApi.total.toLocaleString("en-US")} requests`);
    // A facet under its own filter still lists the other values (to add them).
    expect(await page.locator("button[data-facet=verb]").count()).toBeGreaterThan(1);

    // Typed with the keyboard: CLI flags are accepted too.
    const box = page.getByLabel("Filter");
    await box.fill("--user mallory since=24h");
    await box.press("Enter");
    await page.waitForURL(/user=mallory/);
    await marks();
    expect(new Set(await columnValues(3))).toEqual(new Set(["mallory"]));
    await shot("timeline-filtered");

    await box.fill("code=4x");
    await box.press("Enter");
    await expect(page.locator("#filter-error").innerText()).resolves.toBe(
      'code: "4x" is not an HTTP status code or class (e.g. 403, 4xx, 5xx)',
    );
  });

  it("opens an event: JSON with folded bodies, redaction marked, index, leaf hash and proof checked", async () => {
    await open("/?since=24h&resource=secrets&verb=create&name=db-password");
    await marks();
    await page.locator("[data-testid=events] tbody tr a").first().click();
    await page.waitForURL(/\/ui\/event\/\d+$/);
    const index = Number(page.url().split("/").pop());
    await expect(page.getByTestId("verdict").innerText()).resolves.toMatch(
      /^Verified in this browser: entry \d+ is leaf/,
    );
    const stored = await api<{ entry: string }>(`/v1/entries/${index}`);
    const { hashLeaf } = await import("../../src/tlog/index.js");
    const leaf = Buffer.from(hashLeaf(new TextEncoder().encode(stored.entry))).toString("hex");
    await expect(page.getByTestId("leaf-hash").innerText()).resolves.toBe(leaf);
    expect(await page.getByTestId("proof").locator("li").count()).toBeGreaterThan(5);
    const fold = page.getByTestId("fold-requestObject");
    expect(await fold.getAttribute("open")).toBeNull();
    await fold.locator("summary").click();
    await expect(fold.locator("mark.redacted").first().innerText()).resolves.toBe("redacted");
    expect(stored.entry).not.toContain("c3VwZXItc2VjcmV0LXBhc3N3b3Jk");
    await shot("event");
  });

  it("follows an object's history with field-level diffs", async () => {
    await open("/?since=24h&name=app-config&verb=create");
    await marks();
    await page.locator("[data-testid=events] tbody tr td:nth-child(6) a").first().click();
    await page.waitForURL(/\/ui\/history\?object=configmaps%2Fapp-config&namespace=prod/);
    const changes = page.getByTestId("history").locator("> li");
    await changes.nth(2).waitFor();
    expect(await changes.count()).toBe(3);
    const text = await page.getByTestId("history").innerText();
    expect(text).toMatch(/create by alice/);
    expect(text).toContain('data.mode: "safe" → "fast"');
    expect(text).toContain('data.extra: "1"');
    expect(text).toMatch(/delete by mallory/);
    await page.waitForFunction(
      () => document.querySelectorAll("[data-testid=history] .mark.ok").length === 3,
    );
    await shot("history");
  });

  it("shows one person's activity, top verbs and their 403s", async () => {
    await open("/people?user=mallory");
    await page.getByText(/^Refused \(403\): 1$/).waitFor();
    await page.waitForFunction(() => document.querySelectorAll(".mark.pending").length === 0);
    expect(await page.locator("button[data-facet=verb]").allInnerTexts()).toEqual(
      expect.arrayContaining([expect.stringContaining("get"), expect.stringContaining("delete")]),
    );
    await shot("people");
  });

  it("lists the detector's alerts with severity and rule, linked to the events they cite", async () => {
    await open("/alerts");
    const exec = page
      .getByTestId("records")
      .locator("li", { hasText: "pod-exec" })
      .filter({ hasText: "prod/web-0" })
      .first();
    await exec.waitFor({ timeout: 30_000 });
    expect(await exec.locator(".severity").innerText()).toMatch(/HIGH|MEDIUM|CRITICAL|LOW/);
    await page.waitForFunction(
      () => document.querySelectorAll("[data-testid=records] .mark.pending").length === 0,
    );
    expect(await exec.locator(".mark").getAttribute("aria-label")).toMatch(/verified$/);
    await shot("alerts");
    await exec
      .getByRole("link", { name: /^entry \d+$/ })
      .first()
      .click();
    await page.waitForURL(/\/ui\/event\/\d+$/);
    await expect(page.locator("h1").innerText()).resolves.toContain("create pods/exec prod/web-0");
  });

  it("shows an empty decisions page until guardrails record decisions", async () => {
    await open("/decisions");
    await page.getByText(/No admission decision in the log/).waitFor();
    await shot("decisions");
  });

  it("flags a tampered stored byte on exactly that entry, naming it", async () => {
    const page1 = await api<{ items: Proven[] }>("/v1/entries?since=24h&resource=pods&limit=1000");
    const size = (await api<{ treeSize: number }>("/v1/entries?limit=1")).treeSize;
    const fullBundles = Math.floor(size / 256) * 256;
    const victim = page1.items.find((i) => i.index < fullBundles && /"verb":"get"/.test(i.entry));
    expect(victim).toBeDefined();
    const { index } = victim as Proven;
    const user = (JSON.parse((victim as Proven).entry) as { user: { username: string } }).user.username;
    // One byte of the stored entry, inside its bundle (plain or compressed): "get" becomes "gex".
    const restore = editStoredBundle(new FsLayout(server.dataDir), Math.floor(index / 256), (bundle) => {
      let lineStart = 0;
      for (let line = 0; line < index % 256; line++) lineStart = bundle.indexOf(10, lineStart) + 1;
      const at = bundle.indexOf('"verb":"get"', lineStart) + '"verb":"ge'.length;
      expect(at).toBeGreaterThan(lineStart);
      expect(at).toBeLessThan(bundle.indexOf(10, lineStart));
      bundle[at] = "x".charCodeAt(0);
      return bundle;
    });
    try {
      await open(`/?all=1&user=${encodeURIComponent(user)}&resource=pods`);
      const m = await marks();
      expect(m.get(index)).toBe(`entry ${index} failed verification`);
      const bad = [...m].filter(([, v]) => !v.endsWith("verified")).map(([i]) => i);
      expect(bad).toEqual([index]);
      expect(m.size).toBeGreaterThan(1);
      const failures = await page.getByTestId("proof-failures").innerText();
      expect(failures).toContain("1 entry failed verification");
      expect(failures).toContain(`entry ${index}: its bytes are not the leaf the signed checkpoint`);
      await shot("tampered");
      await open(`/event/${index}`);
      const verdict = page.getByTestId("verdict");
      await verdict.filter({ hasNotText: "Checking" }).waitFor();
      expect(await verdict.innerText()).toContain(`entry ${index}: its bytes are not the leaf`);
      expect(await verdict.innerText()).not.toContain("Verified");
    } finally {
      restore();
    }
  });

  it("refuses a tampered proof or checkpoint from the server", async () => {
    // A server (or anything between) that alters one hash of one proof: that row alone fails.
    await page.route("**/v1/entries?*", async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { items: { proof: string[] }[] };
      const p = body.items[1]!.proof;
      p[0] = p[0]!.startsWith("A") ? `B${p[0]!.slice(1)}` : `A${p[0]!.slice(1)}`;
      await route.fulfill({ response: res, json: body });
    });
    await open("/?since=24h");
    const m = await marks();
    const bad = [...m].filter(([, v]) => !v.endsWith("verified"));
    expect(bad.length).toBe(1);
    await page.unroute("**/v1/entries?*");

    // A checkpoint whose root was changed after signing.
    await page.route("**/ui/api/log", async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { checkpoint: string };
      const lines = body.checkpoint.split("\n");
      lines[2] = lines[2]!.startsWith("A") ? `B${lines[2]!.slice(1)}` : `A${lines[2]!.slice(1)}`;
      await route.fulfill({ response: res, json: { ...body, checkpoint: lines.join("\n") } });
    });
    await open("/integrity");
    expect(await trustState()).toMatch(/^Refused: the checkpoint is refused: invalid signature by key /);
    await page.unroute("**/ui/api/log");

    // An older checkpoint, properly signed: the log would have shrunk since this browser saw it.
    await page.route("**/ui/api/log", (route) =>
      route.fulfill({ body: earlyLog, contentType: "application/json" }),
    );
    await open("/integrity");
    expect(await trustState()).toMatch(/^Refused: the log shrank: its checkpoint has size/);
    await page.unroute("**/ui/api/log");
  });

  it("refuses the checkpoint under a wrong pinned key, then verifies under the right one", async () => {
    const info = await api<{ origin: string; verifierKey: string }>("/ui/api/log");
    const wrong = generateNoteKey(info.origin).verifierKey;
    await open("/integrity");
    await page.getByLabel("Pinned verifier key").fill(wrong);
    await page.getByRole("button", { name: "Pin key" }).click();
    expect(await trustState()).toMatch(
      /^Refused: the checkpoint is refused: note is not signed by any known key \(known: .+; signed by: .+\)/,
    );
    await expect(page.getByTestId("trust-banner").innerText()).resolves.toContain("Not verified.");
    await shot("integrity-wrong-key");
    await open("/?since=24h");
    const m = await marks();
    expect([...m.values()].every((v) => v.endsWith("failed verification"))).toBe(true);

    await open("/integrity");
    await page.getByLabel("Pinned verifier key").fill(info.verifierKey);
    await page.getByRole("button", { name: "Pin key" }).click();
    expect(await trustState()).toBe("Verified in this browser against your pinned key.");
    expect(await page.getByTestId("trust-banner").count()).toBe(0);
    await page.getByTestId("verify-now").click();
    await expect(page.getByTestId("verify-report").innerText()).resolves.toMatch(
      /^The newest 200 requests are in the log: every inclusion proof verified/,
    );
    await page.getByTestId("proof-rate").waitFor();
    await shot("integrity");
  });

  it("reads well in dark mode", async () => {
    const dark = await launchBrowser({ colorScheme: "dark" });
    try {
      await login(dark.page);
      await dark.page.locator("[data-testid=events] tbody tr").first().waitFor();
      await dark.page.waitForFunction(() => document.querySelectorAll(".mark.pending").length === 0);
      const bg = await dark.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      expect(bg).toBe("rgb(21, 24, 28)");
      await shot("timeline-dark", dark.page);
      expect(dark.problems).toEqual([]);
    } finally {
      await dark.close();
    }
  });
});
