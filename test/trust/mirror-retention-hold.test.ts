// serve's retention beside a push mirror, with real processes: while the mirror is down, the
// bundles past the policy stay (a mirror takes entries, not tombstones: one pruned before the
// mirror got it could never reach it), and the run says which mirror holds them back; once the
// mirror has caught up and cosigned, the next run prunes them, and the mirror's copy follows the
// log's retention record. What the mirror cosigned survives serve's restart, and `retention run`
// on the stopped log holds back for the same mirror unless told to ignore it.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openFsLog } from "../../src/store/fs/storage.js";
import { originHash } from "../../src/witness/witness.js";
import { runCli } from "../fixtures/cli.js";
import { cosignerKey, freePort, startCosigner, type Cosigner } from "../fixtures/cosigner-process.js";
import { sleep, startServe, type Serve } from "../faults/serve-process.js";

const ORIGIN = "mirror-retention-hold.test/log";
const DAY_MS = 86_400_000;

function events(n: number, ageDays: number): Buffer[] {
  return Array.from({ length: n }, (_, k) =>
    Buffer.from(
      JSON.stringify({
        kind: "Event",
        apiVersion: "audit.k8s.io/v1",
        auditID: `h-${ageDays}-${k}`,
        stage: "ResponseComplete",
        verb: "get",
        objectRef: { resource: "pods", namespace: "a" },
        stageTimestamp: new Date(Date.now() - ageDays * DAY_MS).toISOString(),
      }),
    ),
  );
}

async function until(what: () => boolean, label: () => string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label()}`);
    await sleep(100);
  }
}

describe("serve's retention and a push mirror", () => {
  let dir = "";
  let data = "";
  let mirror: Cosigner | undefined;
  let serve: Serve | undefined;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-mirror-hold-"));
    data = path.join(dir, "primary");
  });
  afterAll(async () => {
    await serve?.kill("SIGKILL");
    await mirror?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps what a mirror lacks until it has it, then prunes, and the copy follows", async () => {
    // 512 events past a 30-day policy (bundles 0 and 1), 100 of a day ago.
    const log = await openFsLog(data, { origin: ORIGIN });
    await log.append([...events(512, 90), ...events(100, 1)]);
    await log.waitIntegrated(612);
    const logKey = log.verifierKey;
    await log.close();
    writeFileSync(path.join(dir, "logs.yaml"), `logs:\n  - ${logKey}\n`);
    writeFileSync(
      path.join(dir, "policy.yaml"),
      "apiVersion: kubetrail.dev/v1\nkind: RetentionPolicy\nkeep: 30d\n",
    );
    const mirrorData = path.join(dir, "mirror");
    const mirrorKey = await cosignerKey("mirror", mirrorData, "m.hold.test/m");
    const mirrorPort = await freePort();
    // The mirror's CA exists once it has started: start it once to make its TLS files, then stop it.
    mirror = await startCosigner("mirror", mirrorData, ["--logs", path.join(dir, "logs.yaml")], mirrorPort);
    writeFileSync(path.join(dir, "ca.pem"), mirror.ca);
    await mirror.kill("SIGTERM");
    const cosigners = path.join(dir, "cosigners.yaml");
    writeFileSync(
      cosigners,
      [
        "mirrors:",
        `  - {url: "https://127.0.0.1:${mirrorPort}/", key: "${mirrorKey}"}`,
        `ca: ${path.join(dir, "ca.pem")}`,
        "maxWait: 1s",
        "retries: 0",
      ].join("\n") + "\n",
    );
    const serveArgs = [
      "--cosigners",
      cosigners,
      "--retention-policy",
      path.join(dir, "policy.yaml"),
      "--retention-interval",
      "1s",
      "--no-detect",
    ];
    const bundles = () =>
      readdirSync(path.join(data, "tile", "entries")).filter((n) => /^00[01](\.zst)?$/.test(n));

    // The mirror down: two runs, nothing removed, and each says why.
    serve = await startServe(data, serveArgs);
    const held =
      /"stoppedBy":"mirror m\.hold\.test\/m has cosigned only 0 entries[^"]*","msg":"retention: nothing to remove"/g;
    await until(
      () => (serve!.output().match(held) ?? []).length >= 2,
      () => `two held runs in:\n${serve!.output()}`,
    );
    expect(serve.output()).not.toContain("retention: bundles removed");
    expect(bundles().length).toBeGreaterThanOrEqual(2);
    // Restarted, it still holds (nothing cosigned yet is on disk too).
    await serve.kill("SIGTERM");
    expect(JSON.parse(readFileSync(path.join(data, "mirrors-held.json"), "utf8"))).toMatchObject({
      mirrors: { "m.hold.test/m": { size: 0 } },
    });
    // So does a run of the CLI on the stopped log, unless told to ignore the mirrors.
    const cliRun = async (...more: string[]) => {
      const r = await runCli([
        "retention",
        "run",
        "--data",
        data,
        "--policy",
        path.join(dir, "policy.yaml"),
        "-o",
        "json",
        ...more,
      ]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { before: number; stoppedBy: string };
    };
    expect(await cliRun()).toMatchObject({
      before: 0,
      stoppedBy: expect.stringMatching(/^mirror m\.hold\.test\/m has cosigned only 0/) as string,
    });
    expect(await cliRun("--ignore-mirrors", "--dry-run")).toMatchObject({ before: 512 });
    expect(bundles().length).toBeGreaterThanOrEqual(2);

    // The mirror back: it catches up and cosigns, and the next run prunes.
    mirror = await startCosigner("mirror", mirrorData, ["--logs", path.join(dir, "logs.yaml")], mirrorPort);
    serve = await startServe(data, serveArgs);
    await until(
      () => serve!.output().includes("retention: bundles removed"),
      () => `a pruning run in:\n${serve!.output()}`,
    );
    expect(serve.output()).toMatch(/"from":0,"before":512,"bundles":2/);
    expect(bundles()).toEqual([]);
    // The retention record reaches the mirror with the next checkpoint; its copy prunes too.
    const copy = path.join(mirrorData, "logs", originHash(ORIGIN));
    await until(
      () => {
        const v = readdirSync(path.join(copy, "tile", "entries")).filter((n) => /^00[01](\.zst)?$/.test(n));
        return v.length === 0;
      },
      () => `the mirror's copy to drop bundles 0 and 1:\n${mirror!.output()}`,
    );
    await serve.kill("SIGTERM");
    serve = undefined;
    await mirror.kill("SIGTERM");
    mirror = undefined;
    const saved = JSON.parse(readFileSync(path.join(data, "mirrors-held.json"), "utf8")) as {
      mirrors: Record<string, { size: number }>;
    };
    expect(saved.mirrors["m.hold.test/m"]!.size).toBeGreaterThanOrEqual(613);
    const v = await runCli(["verify", "--data", copy, "--key", logKey, "-o", "json"]);
    expect(v.code, v.stdout).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, pruned: 512 });
  });
});
