// Several real processes on loopback, each with its own data directory: a log (`kubetrail
// serve --cosigners`), two witnesses and a mirror. The quorum met; a witness down with
// fail-open and fail-closed publishing; a forged fork shown to a witness and to the mirror (both
// refuse, the mirror raises the split-view alert naming both checkpoints); strict mode; kill -9
// of each process mid-traffic with every acknowledged event kept, mirrored and verifiable.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEvents, toEventList } from "../../bench/gen/events.js";
import {
  CosignatureVerifier,
  formatAddCheckpointRequest,
  hashLeaf,
  NoteSigner,
  NoteVerifier,
  openCheckpoint,
  rootFromLeafHashes,
  signCheckpoint,
  type OpenedCheckpoint,
} from "../../src/tlog/index.js";
import { originHash } from "../../src/witness/witness.js";
import { startReceiver, type Receiver } from "../detect-http.js";
import { runCli } from "../fixtures/cli.js";
import { buildGoInterop, runGo, skipGo } from "../interop/go-helper.js";
import {
  callCosigner,
  cosignerKey,
  freePort,
  startCosigner,
  type Cosigner,
} from "../fixtures/cosigner-process.js";
import {
  call,
  postEvents,
  readLog,
  requireBuiltCli,
  sleep,
  readerFlags as serveReaderFlags,
  startServe,
  type Serve,
} from "../faults/serve-process.js";

const SEED = Number(process.env["TEST_SEED"] ?? Date.now() % 1_000_000);
const ORIGIN = "topology.test/log";

describe("a log, two witnesses and a mirror on loopback", () => {
  let dir = "";
  let logDir = "";
  let logKey = "";
  let w1: Cosigner;
  let w2: Cosigner;
  let m1: Cosigner;
  let serve: Serve | undefined;
  let alerts: Receiver;
  let servePort = 0;
  let eventSeed = SEED;
  const keys = { w1: "", w2: "", m1: "" };

  const verifiers = (): (NoteVerifier | CosignatureVerifier)[] => [
    NoteVerifier.fromKey(logKey),
    CosignatureVerifier.fromKey(keys.w1),
    CosignatureVerifier.fromKey(keys.w2),
    CosignatureVerifier.fromKey(keys.m1),
  ];
  const cosignersFile = (extra: string): string => {
    const file = path.join(dir, "cosigners.yaml");
    writeFileSync(
      path.join(dir, "cosigners-ca.pem"),
      [w1.ca, w2.ca, m1.ca].map((b) => b.toString()).join("\n"),
    );
    writeFileSync(
      file,
      [
        "witnesses:",
        `  - {url: "${w1.url}", key: "${keys.w1}"}`,
        `  - {url: "${w2.url}", key: "${keys.w2}"}`,
        "mirrors:",
        `  - {url: "${m1.url}", key: "${keys.m1}"}`,
        "quorum: 2",
        "timeout: 2s",
        "retries: 1",
        "maxWait: 2s",
        `ca: ${path.join(dir, "cosigners-ca.pem")}`,
        extra,
      ].join("\n") + "\n",
    );
    return file;
  };
  const startLog = async (extra: string): Promise<Serve> => {
    serve = await startServe(logDir, ["--cosigners", cosignersFile(extra), "--no-detect"], {
      listen: `127.0.0.1:${servePort}`,
    });
    return serve;
  };
  const stopLog = async (): Promise<void> => {
    await serve?.kill("SIGTERM");
    serve = undefined;
  };
  const post = async (count: number): Promise<string[]> => {
    const events = [...generateEvents({ seed: eventSeed++, count })];
    const r = await postEvents(serve!, JSON.stringify(toEventList(events)));
    if (r.status !== 200) throw new Error(`webhook answered ${r.status}: ${r.body}`);
    return events.map((e) => e.auditID);
  };
  const published = async (): Promise<OpenedCheckpoint> => {
    const r = await call(serve!, { path: "/log/checkpoint" });
    if (r.status !== 200) throw new Error(`/log/checkpoint: ${r.status} ${r.body}`);
    return openCheckpoint(r.body, verifiers());
  };
  const cosignerNames = (cp: OpenedCheckpoint): string[] => cp.cosignatures.map((c) => c.name).sort();
  /** Polls until `check` holds (or fails after `ms`). */
  const until = async <T>(
    what: string,
    probe: () => Promise<T>,
    check: (v: T) => boolean,
    ms = 20_000,
  ): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await probe();
      if (check(v)) return v;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)} after ${ms} ms`);
      await sleep(200);
    }
  };
  const logSize = (): number => Number(readFileSync(path.join(logDir, "checkpoint"), "utf8").split("\n")[1]);
  const mirrorCheckpoint = async (): Promise<OpenedCheckpoint | null> => {
    const r = await callCosigner(m1, { path: `/${originHash(ORIGIN)}/checkpoint` });
    return r.status === 200 ? openCheckpoint(r.body, verifiers()) : null;
  };
  /** What a reader of the log gives: its pinned key, the serving CA and a read token. */
  const readerFlags = (): string[] => serveReaderFlags(logDir, logKey);
  const verifyUrl = (flags: string[]) =>
    runCli(["verify", `${serve!.url}/log/`, ...readerFlags(), "-o", "json", ...flags]);

  beforeAll(async () => {
    requireBuiltCli();
    console.log(`topology seed ${SEED} (TEST_SEED=${SEED} to repeat)`);
    dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-topology-"));
    logDir = path.join(dir, "log");
    logKey = (await runCli(["keys", "--data", logDir, "--origin", ORIGIN])).stdout.trim();
    writeFileSync(path.join(dir, "logs.yaml"), `logs:\n  - ${logKey}\n`);
    alerts = await startReceiver();
    writeFileSync(
      path.join(dir, "alerts.yaml"),
      `sinks:\n  - {type: webhook, url: "${alerts.url}/alerts"}\n`,
    );
    keys.w1 = await cosignerKey("witness", path.join(dir, "w1"), "w1.topology.test/w");
    keys.w2 = await cosignerKey("witness", path.join(dir, "w2"), "w2.topology.test/w");
    keys.m1 = await cosignerKey("mirror", path.join(dir, "m1"), "m1.topology.test/m");
    const logsArgs = ["--logs", path.join(dir, "logs.yaml"), "--rules-config", path.join(dir, "alerts.yaml")];
    [w1, w2, m1] = await Promise.all([
      startCosigner("witness", path.join(dir, "w1"), logsArgs),
      startCosigner("witness", path.join(dir, "w2"), logsArgs),
      startCosigner("mirror", path.join(dir, "m1"), logsArgs),
    ]);
    servePort = await freePort();
  });

  afterAll(async () => {
    await stopLog();
    await Promise.all([w1, w2, m1].map((c) => c?.kill("SIGKILL")));
    await alerts?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("publishes checkpoints cosigned by the quorum and the mirror; verify checks the quorum", async () => {
    await startLog("failMode: open");
    await post(40);
    const cp = await until(
      "published checkpoint",
      published,
      (c) => c.size >= 40 && c.cosignatures.length === 3,
    );
    expect(cosignerNames(cp)).toEqual(["m1.topology.test/m", "w1.topology.test/w", "w2.topology.test/w"]);
    // Go's golang.org/x/mod/sumdb/note opens the published checkpoint with the log's key, leaving
    // the three cosignature lines unverified, and checks a witness's with its cosignature/v1 code.
    if (!skipGo) {
      const note = (await call(serve!, { path: "/log/checkpoint" })).body;
      const go = runGo<{ signers: string[]; cosignedUnknown: string[]; cosignedWithBoth: string[] }>(
        buildGoInterop(dir),
        "check",
        { verifierKey: logKey, checkpoint: note, cosignedCheckpoint: note, witnessKey: keys.w1 },
      );
      const idOf = (k: string) => k.split("+").slice(0, 2).join("+");
      expect(go.signers).toEqual([idOf(logKey)]);
      expect(go.cosignedUnknown.sort()).toEqual([idOf(keys.m1), idOf(keys.w1), idOf(keys.w2)].sort());
      expect(go.cosignedWithBoth).toEqual([idOf(logKey), idOf(keys.w1)]);
    }
    const ok = await verifyUrl(["--witness", keys.w1, "--witness", keys.w2]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      ok: true,
      witnesses: ["w1.topology.test/w", "w2.topology.test/w"],
    });
    // The mirror serves its copy with its own cosignature; the copy verifies on its own.
    const mirrored = await until("mirror checkpoint", mirrorCheckpoint, (c) => (c?.size ?? 0) >= 40);
    expect(cosignerNames(mirrored!)).toContain("m1.topology.test/m");
    const copy = await runCli([
      "verify",
      "--data",
      path.join(m1.dataDir, "logs", originHash(ORIGIN)),
      "--key",
      logKey,
      "--witness",
      keys.m1,
    ]);
    expect(copy.code, copy.stdout + copy.stderr).toBe(0);
  });

  it("fail-open: with a witness down, publishes short of the quorum, and verify names the missing witness", async () => {
    await w2.kill("SIGKILL");
    const before = (await published()).size;
    await post(30);
    const cp = await until("published checkpoint", published, (c) => c.size >= before + 30);
    expect(cosignerNames(cp)).toEqual(["m1.topology.test/m", "w1.topology.test/w"]);
    const short = await verifyUrl(["--witness", keys.w1, "--witness", keys.w2]);
    expect(short.code).toBe(1);
    expect(JSON.parse(short.stdout).problems[0]).toMatchObject({
      code: "witness-quorum",
      message: expect.stringContaining("missing: w2.topology.test/w"),
    });
    const one = await verifyUrl(["--witness", keys.w1, "--witness", keys.w2, "--min-witnesses", "1"]);
    expect(one.code, one.stdout).toBe(0);
    // The remote read commands and export hold every checkpoint they trust to the same policy.
    const remote = (args: string[]) =>
      runCli([...args, "--server", serve!.url, ...readerFlags()], undefined, {
        XDG_STATE_HOME: path.join(dir, "client-state"),
        KUBETRAIL_CONFIG: path.join(dir, "client.yaml"),
      });
    const bundle = path.join(dir, "short-bundle.json");
    for (const args of [
      ["query", "--witness", keys.w1, "--witness", keys.w2],
      ["export", "-o", bundle, "--witness", keys.w1, "--witness", keys.w2],
    ]) {
      const refused = await remote(args);
      expect(refused.code, `${args[0]}: ${refused.stdout}`).toBe(1);
      expect(refused.stderr).toContain("missing: w2.topology.test/w");
    }
    expect(existsSync(bundle) ? readFileSync(bundle, "utf8") : "").toBe("");
    const enough = await remote(["query", "-o", "json", "--witness", keys.w1, "--min-witnesses", "1"]);
    expect(enough.code, enough.stderr).toBe(0);
    w2 = await w2.restart();
  });

  it("fail-closed: holds back checkpoints short of the quorum until the witness is back", async () => {
    await stopLog();
    await startLog("failMode: closed");
    const quorum = await until("quorum after restart", published, (c) => c.cosignatures.length === 3);
    await w2.kill("SIGKILL");
    await post(25);
    await until(
      "the log's own checkpoint",
      async () => logSize(),
      (s) => s >= quorum.size + 25,
    );
    await sleep(2_500);
    // The log signed newer checkpoints; the published one is still the last with the quorum.
    expect((await published()).size).toBe(quorum.size);
    w2 = await w2.restart();
    const cp = await until(
      "published after the witness is back",
      published,
      (c) => c.size >= quorum.size + 25,
      30_000,
    );
    expect(cosignerNames(cp)).toEqual(["m1.topology.test/m", "w1.topology.test/w", "w2.topology.test/w"]);
  });

  it("a forged fork is refused by a witness and by the mirror, each raising the split-view alert", async () => {
    if (!serve) await startLog("failMode: open");
    await post(5);
    // Past the empty tree: any tree is consistent with that one.
    await until("cosigned by all", published, (c) => c.size > 0 && c.cosignatures.length === 3);
    const signer = NoteSigner.fromKey(readFileSync(path.join(logDir, "keys", "signing.key"), "utf8").trim());
    // Another history of the same log, signed with its own (stolen) key: a split view.
    const forge = async (size: number): Promise<{ note: string; root: string }> => {
      const leaves = Array.from({ length: size }, (_, i) => hashLeaf(Buffer.from(`{"forged":${i}}`)));
      const rootHash = rootFromLeafHashes(leaves);
      const note = await signCheckpoint({ origin: ORIGIN, size, rootHash, extensions: [] }, signer);
      return { note, root: Buffer.from(rootHash).toString("base64") };
    };
    // What a cosigner holds, from its 409 to "old 0" (both hold a checkpoint by now).
    const heldBy = async (c: Cosigner): Promise<number> => {
      const probe = formatAddCheckpointRequest({ oldSize: 0, proof: [], checkpoint: (await forge(1)).note });
      const r = await callCosigner(c, { path: "/add-checkpoint", body: probe });
      expect(r.status, `${c.role}: ${r.body}`).toBe(409);
      return Number(r.body.trim());
    };
    for (const c of [w1, m1]) {
      // The log may still be handing the cosigner a newer checkpoint: a 409 says it moved on
      // between the probe and the forgery (a different size held), so probe again.
      let size = 0;
      let forged = { note: "", root: "" };
      let r = { status: 0, body: "" };
      for (let attempt = 0; attempt < 5 && r.status !== 422; attempt++) {
        size = await heldBy(c);
        forged = await forge(size);
        r = await callCosigner(c, {
          path: "/add-checkpoint",
          body: formatAddCheckpointRequest({ oldSize: size, proof: [], checkpoint: forged.note }),
        });
        if (r.status !== 409) break;
      }
      expect(r.status, `${c.role}: ${r.body}`).toBe(422);
      // The evidence is kept beside, naming both checkpoints.
      const files = await until(
        `${c.role} evidence`,
        async () =>
          // Not the hidden temporary file of the atomic write still under way.
          existsSync(path.join(c.dataDir, "evidence"))
            ? readdirSync(path.join(c.dataDir, "evidence")).filter((n) => !n.startsWith("."))
            : [],
        (f) => f.length > 0,
        5_000,
      );
      expect(readFileSync(path.join(c.dataDir, "evidence", files[0]!), "utf8")).toContain(
        forged.note.trimEnd(),
      );
      // Both raise the split-view alert (they share an alert sink here).
      const name = c === m1 ? "m1.topology.test/m" : "w1.topology.test/w";
      const alert = await until(
        `split-view alert from ${name}`,
        async () => alerts.received.find((x) => (x.body as { source?: string }).source === name),
        (x) => x !== undefined,
        10_000,
      );
      const a = alert!.body as { rule: string; severity: string; description: string; source: string };
      expect(a).toMatchObject({ rule: "split-view", severity: "critical" });
      // Both checkpoints are named: the one held and the forgery shown.
      expect(a.description).toContain(`Shown: ${ORIGIN} ${size} ${forged.root}`);
      expect(a.description).toMatch(
        new RegExp(`Held: ${ORIGIN} ${size} (?!${forged.root.replace(/[+/=]/g, ".")})`),
      );
    }
  });

  it("strict mode: an acknowledged event is already held by the mirror; without the mirror, no acknowledgement", async () => {
    await stopLog();
    await startLog("failMode: open\nstrict: true\nstrictTimeout: 3s");
    for (let i = 0; i < 3; i++) {
      await post(5);
      // Acknowledged: a mirror cosigned a checkpoint covering everything durable at that moment.
      const sizeAtAck = logSize();
      expect((await mirrorCheckpoint())!.size).toBeGreaterThanOrEqual(sizeAtAck);
    }
    await m1.kill("SIGKILL");
    const events = [...generateEvents({ seed: eventSeed++, count: 3 })];
    const refused = await postEvents(serve!, JSON.stringify(toEventList(events)));
    expect(refused.status).toBe(503);
    expect(refused.body).toContain("no mirror cosigned");
    m1 = await m1.restart();
    // The apiserver sends the batch again: acknowledged now, stored once.
    const again = await until(
      "acknowledged once the mirror is back",
      () => postEvents(serve!, JSON.stringify(toEventList(events))),
      (r) => r.status === 200,
      30_000,
    );
    expect(JSON.parse(again.body)).toMatchObject({ received: 3 });
  });

  it("kill -9 of each process mid-traffic: every acknowledged event is kept, mirrored and verifiable", async () => {
    await stopLog();
    await startLog("failMode: open");
    const acked: string[] = [];
    let stop = false;
    let failures = 0;
    const traffic = (async () => {
      while (!stop) {
        try {
          acked.push(...(await post(10)));
        } catch {
          failures++; // the log was down: the apiserver would send the batch again
          await sleep(100);
        }
      }
    })();
    const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
      await sleep(700);
      await fn();
      console.log(`${what}: ${acked.length} events acknowledged so far`);
    };
    await step("witness 1 killed", async () => {
      await w1.kill("SIGKILL");
      w1 = await w1.restart();
    });
    await step("mirror killed", async () => {
      await m1.kill("SIGKILL");
      m1 = await m1.restart();
    });
    await step("log killed", async () => {
      await serve!.kill("SIGKILL");
      await startLog("failMode: open");
    });
    await step("witness 2 killed", async () => {
      await w2.kill("SIGKILL");
      w2 = await w2.restart();
    });
    await sleep(700);
    stop = true;
    await traffic;
    expect(acked.length).toBeGreaterThan(100);
    // Everything is published with the full quorum again, mirrored, and verifies.
    const final = logSize();
    const cp = await until(
      "final published checkpoint",
      published,
      (c) => c.size >= final && c.cosignatures.length === 3,
      30_000,
    );
    await until("mirror caught up", mirrorCheckpoint, (c) => (c?.size ?? 0) >= cp.size, 30_000);
    const v = await verifyUrl(["--witness", keys.w1, "--witness", keys.w2, "--witness", keys.m1]);
    expect(v.code, v.stdout).toBe(0);
    await stopLog();
    const stored = new Set((await readLog(logDir)).map((e) => e.auditID));
    expect(acked.filter((id) => !stored.has(id))).toEqual([]);
    const copy = await runCli([
      "verify",
      "--data",
      path.join(m1.dataDir, "logs", originHash(ORIGIN)),
      "--key",
      logKey,
    ]);
    expect(copy.code, copy.stdout + copy.stderr).toBe(0);
    console.log(`${acked.length} acknowledged, ${failures} batches refused while the log was down`);
  });
});
