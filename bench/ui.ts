// The web UI on a large log (2M events by default; --quick 200k): a real `serve` and Debian's
// Chromium. Measured in the browser: first meaningful paint (histogram, facets and the first
// rows with their proofs queued), the time from a facet click or filter change to the page
// showing the new answer, frame gaps while scrolling with proofs checked in the worker, and
// proofs verified per second. On the server, the same filter changes answered by the
// in-memory stats against the SQLite GROUP BY queries a server without them would run
// (QueryIndex.top, as `kubetrail top`), on the same index. And the bundle's gzipped size.
//
//   node build/bench/ui.js [--quick] [--events=N] [--rounds=N] [--data-dir=DIR]
//
// --data-dir keeps the generated log in DIR and reuses it next time (bench/lib/event-log.ts;
// the reach bench reads the same log).
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import {
  intOption,
  log,
  markdownTable,
  parseBenchArgs,
  percentile,
  printNote,
  runIfMain,
  tempDir,
} from "./harness.js";
import { launchBrowser } from "./lib/browser.js";
import { benchEventLog } from "./lib/event-log.js";
import { kubetrailCli } from "./lib/kubetrail-cli.js";
import { repoRoot } from "./lib/paths.js";
import { startServeWith } from "./lib/serve-process.js";
import { openIndexForLog } from "../src/index/indexer.js";
import { parseFilter } from "../src/index/query.js";
import { FACETS } from "../src/index/stats/aggregate.js";
import { EventStats } from "../src/index/stats/event-stats.js";
import { StatsSource } from "../src/index/stats/source.js";
import { fsStorage } from "../src/store/fs/storage.js";
import { openSnapshot } from "../src/store/storage.js";

// What the functions run inside the page use of the DOM; declared here because the benches
// compile without the DOM library.
interface DomElement {
  getAttribute(name: string): string | null;
  click(): void;
}
declare const document: {
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): { length: number };
};
declare const window: { scrollBy(x: number, y: number): void };
declare function requestAnimationFrame(cb: (t: number) => void): number;
declare class PerformanceObserver {
  constructor(cb: (list: { getEntries(): unknown[] }) => void);
  observe(opts: { type: string; buffered: boolean }): void;
  disconnect(): void;
}

/** The filter changes both sides answer: facet values one would click, alone and combined. */
function filterChanges(): Record<string, string[]>[] {
  return [
    { since: ["7d"], verb: ["get"] },
    { since: ["7d"], verb: ["get", "list"] },
    { since: ["7d"], verb: ["delete"] },
    { since: ["7d"], code: ["403"] },
    { since: ["7d"], namespace: ["kube-system"] },
    { since: ["7d"], resource: ["secrets"] },
    { since: ["7d"], resource: ["secrets"], verb: ["get"] },
    { since: ["24h"] },
    { since: ["24h"], user: ["system:kube-scheduler"] },
    { since: ["1h"], code: ["4xx"] },
    { since: ["7d"], namespace: ["default"], verb: ["create"] },
    { since: ["7d"] },
  ];
}

function ms(x: number): string {
  return x.toFixed(1);
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const count = intOption(args, "events", args.quick ? 200_000 : 2_000_000);
  const rounds = intOption(args, "rounds", args.quick ? 2 : 3);
  const dataDir = args.options["data-dir"] ?? path.join(tempDir("ui"), "data");
  await benchEventLog(dataDir, count);
  const nowUs = Date.now() * 1000;

  // ---- server side: the same filter changes, in-memory stats against SQLite GROUP BY ----
  const snapshot = await openSnapshot(fsStorage(dataDir));
  const { index } = openIndexForLog(dataDir, snapshot);
  const stats = new EventStats(new StatsSource(dataDir));
  const loadStart = performance.now();
  await stats.refresh();
  const loadS = (performance.now() - loadStart) / 1000;
  const ours: number[] = [];
  const sqlite: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const raw of filterChanges()) {
      const filter = parseFilter(raw);
      filter.logSize = snapshot.size();
      let t = performance.now();
      const answer = stats.query(filter, { nowUs, buckets: 90, top: 8 });
      ours.push(performance.now() - t);
      t = performance.now();
      // What the same answer costs in SQL: each facet under the filter without its own term, and the count.
      for (const facet of FACETS) index.top(facet, { ...filter, [facet]: [] }, nowUs, 8);
      index.top("verbs", filter, nowUs, 1000);
      sqlite.push(performance.now() - t);
      if (answer.total < 0) throw new Error("a count below zero");
    }
  }
  stats.close();
  index.close();
  process.stdout.write(
    `\n#### Timeline counts on ${count.toLocaleString("en-US")} events (server side, in process)\n\n` +
      markdownTable(
        ["answer for one filter change (total, histogram, 5 facets)", "p50 ms", "p95 ms", "max ms"],
        [
          [
            "kubetrail in-memory stats (one pass over typed columns)",
            ms(percentile(ours, 50)),
            ms(percentile(ours, 95)),
            ms(Math.max(...ours)),
          ],
          [
            "SQLite GROUP BY per facet (QueryIndex.top, as `kubetrail top`)",
            ms(percentile(sqlite, 50)),
            ms(percentile(sqlite, 95)),
            ms(Math.max(...sqlite)),
          ],
        ],
      ) +
      "\n",
  );
  printNote(
    `${filterChanges().length} filter changes × ${rounds} rounds. The in-memory stats loaded ${count.toLocaleString("en-US")} ` +
      `index rows in ${loadS.toFixed(1)} s (in the background when serve starts; /v1/stats says 503 until then). ` +
      "The SQLite side runs the five facet queries and the count the same answer needs, without the histogram.",
  );

  // ---- the browser against a real serve ----
  const serve = await startServeWith(kubetrailCli(), [
    "--data",
    dataDir,
    "--listen",
    "127.0.0.1:0",
    "--no-detect",
  ]);
  const url = `https://localhost:${serve.port}`;
  const token = readFileSync(path.join(dataDir, "read-token"), "utf8").trim();
  try {
    const browser = await launchBrowser();
    const page = browser.page;
    try {
      await page.goto(`${url}/ui/`);
      await page.getByLabel("Token", { exact: true }).fill(token);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("navigation", { name: "Pages" }).waitFor();
      // The stats finish loading in the background; wait for a first complete page.
      await page.waitForSelector(".timeline[data-busy=false] [data-testid=events] tbody tr", {
        timeout: 600_000,
      });

      const paint = async (): Promise<number> => {
        await page.goto(`${url}/ui/?since=7d`);
        return page.evaluate(async () => {
          for (;;) {
            const ready =
              document.querySelector(".timeline[data-busy=false] [data-testid=events] tbody tr") !== null &&
              document.querySelector("[data-testid=histogram] canvas") !== null;
            if (ready) return performance.now();
            await new Promise((r) => requestAnimationFrame(r));
          }
        });
      };
      const paints: number[] = [];
      for (let i = 0; i < 5 * rounds; i++) paints.push(await paint());

      // Facet clicks and typed filter changes, timed inside the page from the click to the new answer painted.
      const changes: number[] = [];
      await page.goto(`${url}/ui/?since=7d`);
      await page.waitForSelector(".timeline[data-busy=false] [data-testid=events] tbody tr");
      for (let r = 0; r < rounds; r++) {
        for (const facet of [
          "verb",
          "namespace",
          "code",
          "resource",
          "user",
          "verb",
          "namespace",
          "resource",
        ]) {
          const button = page
            .locator(`button[data-facet=${facet}]:not([aria-pressed=true]):not([disabled])`)
            .nth(r % 3);
          const value = await button.getAttribute("data-value");
          const elapsed = await button.evaluate(async (el: DomElement) => {
            const before = document.querySelector(".timeline")?.getAttribute("data-filter");
            const t0 = performance.now();
            el.click();
            for (;;) {
              await new Promise((res) => requestAnimationFrame(res));
              const root = document.querySelector(".timeline");
              if (root?.getAttribute("data-filter") !== before && root?.getAttribute("data-busy") === "false")
                return performance.now() - t0;
              if (performance.now() - t0 > 30_000)
                throw new Error("the page did not show the new filter within 30 s");
            }
          });
          changes.push(elapsed);
          log(`ui: ${facet}=${value} in ${elapsed.toFixed(0)} ms`);
          // Back to the broad view now and then so the next clicks do not narrow to nothing.
          if (changes.length % 2 === 0) {
            await page.goto(`${url}/ui/?since=7d`);
            await page.waitForSelector(".timeline[data-busy=false] [data-testid=events] tbody tr");
          }
        }
      }

      // Scrolling through many pages while their proofs are checked in the worker.
      await page.goto(`${url}/ui/?all=1`);
      await page.waitForSelector(".timeline[data-busy=false] [data-testid=events] tbody tr");
      const scroll = await page.evaluate(
        async (target: number) => {
          const gaps: number[] = [];
          let longTasks = 0;
          const observer = new PerformanceObserver((list) => (longTasks += list.getEntries().length));
          observer.observe({ type: "longtask", buffered: false });
          let last = performance.now();
          const t0 = last;
          while (
            document.querySelectorAll("[data-testid=events] tbody tr").length < target &&
            performance.now() - t0 < 120_000
          ) {
            window.scrollBy(0, 400);
            await new Promise((r) => requestAnimationFrame(r));
            const now = performance.now();
            gaps.push(now - last);
            last = now;
          }
          // Let the last pages' proofs finish.
          while (document.querySelectorAll(".mark.pending").length > 0)
            await new Promise((r) => setTimeout(r, 20));
          observer.disconnect();
          const s = (
            window as unknown as {
              kubetrailProofs: { stats: { checked: number; failed: number; workerMs: number } };
            }
          ).kubetrailProofs.stats;
          gaps.sort((a, b) => a - b);
          return {
            rows: document.querySelectorAll("[data-testid=events] tbody tr").length,
            frames: gaps.length,
            p50: gaps[Math.floor(gaps.length * 0.5)] ?? 0,
            p99: gaps[Math.floor(gaps.length * 0.99)] ?? 0,
            max: gaps[gaps.length - 1] ?? 0,
            longTasks,
            checked: s.checked,
            failed: s.failed,
            workerMs: s.workerMs,
          };
        },
        args.quick ? 1000 : 3000,
      );

      process.stdout.write(
        `\n#### The UI in Chromium on ${count.toLocaleString("en-US")} events (server + render)\n\n` +
          markdownTable(
            ["measure", "p50 ms", "p95 ms", "max ms", "runs", "goal"],
            [
              [
                "first meaningful paint (timeline, 7 days: histogram, facets, first rows)",
                ms(percentile(paints, 50)),
                ms(percentile(paints, 95)),
                ms(Math.max(...paints)),
                String(paints.length),
                "< 1000",
              ],
              [
                "facet click → new counts, histogram and list painted",
                ms(percentile(changes, 50)),
                ms(percentile(changes, 95)),
                ms(Math.max(...changes)),
                String(changes.length),
                "p95 < 200",
              ],
              [
                `frame gap while scrolling to ${scroll.rows.toLocaleString("en-US")} rows`,
                ms(scroll.p50),
                ms(scroll.p99) + " (p99)",
                ms(scroll.max),
                String(scroll.frames),
                "no long stall",
              ],
            ],
          ) +
          "\n",
      );
      printNote(
        `Proofs checked in the browser's worker: ${scroll.checked.toLocaleString("en-US")} (${scroll.failed} failed) in ` +
          `${scroll.workerMs.toFixed(0)} ms of worker time = ${Math.round((scroll.checked * 1000) / Math.max(1, scroll.workerMs)).toLocaleString("en-US")} proofs/s; ` +
          `long tasks (> 50 ms) on the page's main thread while scrolling: ${scroll.longTasks}. ` +
          "First paint is measured from navigation start (performance.now) to the first animation frame with the histogram and rows in the DOM.",
      );
    } finally {
      await browser.close();
    }
  } finally {
    await serve.stop();
  }

  // ---- what the first load downloads ----
  const web = path.join(repoRoot, "dist", "web");
  const html = readFileSync(path.join(web, "index.html"), "utf8");
  const files = readdirSync(path.join(web, "assets"));
  const first = files.filter((f) => html.includes(`/ui/assets/${f}`));
  const gz = (f: string): number => gzipSync(readFileSync(path.join(web, "assets", f)), { level: 9 }).length;
  const rows = [
    ["index.html", String(Buffer.byteLength(html)), String(gzipSync(html, { level: 9 }).length)],
    ...files.map((f) => [
      `${f}${first.includes(f) ? "" : " (after the first page)"}`,
      String(readFileSync(path.join(web, "assets", f)).length),
      String(gz(f)),
    ]),
  ];
  const firstLoad = gzipSync(html).length + first.reduce((n, f) => n + gz(f), 0);
  process.stdout.write(
    `\n#### The UI's bundle (dist/web)\n\n${markdownTable(["file", "bytes", "gzip bytes"], rows)}\n`,
  );
  printNote(
    `First load, gzipped: ${(firstLoad / 1024).toFixed(1)} KB (goal: under 250 KB); the proof worker loads with the first rows.`,
  );
}

runIfMain(import.meta.url, main);
