// Disaster recovery as docs/operations.md describes it, with real processes: a primary with a
// witness and a mirror (strict mode: acknowledged means mirrored), the primary killed with
// SIGKILL and its data directory lost, a new primary restored from the mirror's copy (its
// directory, and its URL), `verify --from` the last checkpoint an auditor kept passing on it,
// and the same witness going on cosigning the restored log.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEvents, toEventList } from "../../bench/gen/events.js";
import { CosignatureVerifier, NoteVerifier, openCheckpoint } from "../../src/tlog/index.js";
import { originHash } from "../../src/witness/witness.js";
import { runCli } from "../fixtures/cli.js";
import { cosignerKey, startCosigner, type Cosigner } from "../fixtures/cosigner-process.js";
import { call, postEvents, requireBuiltCli, sleep, startServe, type Serve } from "../faults/serve-process.js";

const ORIGIN = "dr.test/log";

describe("restoring a primary from a mirror", () => {
  let dir = "";
  let witness: Cosigner;
  let mirror: Cosigner;
  let primary: Serve | undefined;
  let logKey = "";
  let witnessKey = "";
  let mirrorKey = "";
  let cosigners = "";

  const post = async (serve: Serve, seed: number, count: number): Promise<void> => {
    const r = await postEvents(serve, JSON.stringify(toEventList(generateEvents({ seed, count }))));
    if (r.status !== 200) throw new Error(`webhook: ${r.status} ${r.body}`);
  };
  const published = async (serve: Serve) => {
    const r = await call(serve, { path: "/log/checkpoint" });
    return openCheckpoint(r.body, [
      NoteVerifier.fromKey(logKey),
      CosignatureVerifier.fromKey(witnessKey),
      CosignatureVerifier.fromKey(mirrorKey),
    ]);
  };

  beforeAll(async () => {
    requireBuiltCli();
    dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-dr-"));
    logKey = (await runCli(["keys", "--data", path.join(dir, "primary"), "--origin", ORIGIN])).stdout.trim();
    writeFileSync(path.join(dir, "logs.yaml"), `logs:\n  - ${logKey}\n`);
    witnessKey = await cosignerKey("witness", path.join(dir, "witness"), "w.dr.test/w");
    mirrorKey = await cosignerKey("mirror", path.join(dir, "mirror"), "m.dr.test/m");
    [witness, mirror] = await Promise.all([
      startCosigner("witness", path.join(dir, "witness"), ["--logs", path.join(dir, "logs.yaml")]),
      startCosigner("mirror", path.join(dir, "mirror"), ["--logs", path.join(dir, "logs.yaml")]),
    ]);
    writeFileSync(path.join(dir, "ca.pem"), `${witness.ca}\n${mirror.ca}`);
    cosigners = path.join(dir, "cosigners.yaml");
    writeFileSync(
      cosigners,
      [
        "witnesses:",
        `  - {url: "${witness.url}", key: "${witnessKey}"}`,
        "mirrors:",
        `  - {url: "${mirror.url}", key: "${mirrorKey}"}`,
        `ca: ${path.join(dir, "ca.pem")}`,
        "strict: true",
        "maxWait: 2s",
      ].join("\n") + "\n",
    );
    primary = await startServe(path.join(dir, "primary"), ["--cosigners", cosigners, "--no-detect"]);
  });

  afterAll(async () => {
    await primary?.kill("SIGKILL");
    await Promise.all([witness, mirror].map((c) => c?.kill("SIGKILL")));
    rmSync(dir, { recursive: true, force: true });
  });

  it("restores every acknowledged event, continues the same log, and verify --from passes", async () => {
    for (let i = 0; i < 5; i++) await post(primary!, 100 + i, 40);
    // What an auditor kept from earlier: a checkpoint cosigned by the witness.
    let old = await published(primary!);
    for (let t = 0; old.cosignatures.length < 2 && t < 50; t++) {
      await sleep(200);
      old = await published(primary!);
    }
    expect(old.cosignatures.map((c) => c.name).sort()).toEqual(["m.dr.test/m", "w.dr.test/w"]);
    const oldFile = path.join(dir, "old-checkpoint");
    writeFileSync(oldFile, (await call(primary!, { path: "/log/checkpoint" })).body);
    await post(primary!, 200, 60);
    // Strict mode: each of these 260 events was acknowledged only once the mirror held it.
    const acknowledged = 5 * 40 + 60;

    // The primary dies and its disk is gone; its keys were backed up.
    await primary!.kill("SIGKILL");
    primary = undefined;
    for (const f of ["signing.key", "redaction.key"])
      copyFileSync(path.join(dir, "primary", "keys", f), path.join(dir, `${f}.backup`));
    rmSync(path.join(dir, "primary"), { recursive: true, force: true });

    // From the mirror's copy on its disk…
    const copy = path.join(mirror.dataDir, "logs", originHash(ORIGIN));
    const restored = path.join(dir, "restored");
    const r = await runCli([
      "restore",
      "--data",
      restored,
      "--from",
      copy,
      "--key",
      logKey,
      "--signing-key",
      path.join(dir, "signing.key.backup"),
      "--redaction-key",
      path.join(dir, "redaction.key.backup"),
      "--witness",
      mirrorKey,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`restored ${acknowledged} entries of ${ORIGIN}`);
    const v = await runCli(["verify", "--data", restored, "--key", logKey, "--from", oldFile, "-o", "json"]);
    expect(v.code, v.stdout).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, size: acknowledged, trustedSize: old.size });

    // …and from its URL, with a read token for the bundles: the same log.
    const viaUrl = path.join(dir, "restored-url");
    const u = await runCli([
      "restore",
      "--data",
      viaUrl,
      "--from",
      `${mirror.url}${originHash(ORIGIN)}/`,
      "--key",
      logKey,
      "--signing-key",
      path.join(dir, "signing.key.backup"),
      "--token-file",
      path.join(mirror.dataDir, "read-token"),
      "--ca",
      path.join(mirror.dataDir, "tls", "ca.crt"),
    ]);
    expect(u.code, u.stderr).toBe(0);
    expect(u.stdout.split("\n").slice(1).join("\n")).toBe(r.stdout.split("\n").slice(1).join("\n"));

    // The restored primary serves on: the witness, which saw the old primary, cosigns it.
    primary = await startServe(restored, ["--cosigners", cosigners, "--no-detect"]);
    await post(primary, 300, 20);
    let cp = await published(primary);
    for (let t = 0; (cp.size < acknowledged + 20 || cp.cosignatures.length < 2) && t < 100; t++) {
      await sleep(200);
      cp = await published(primary);
    }
    expect(cp.size).toBe(acknowledged + 20);
    expect(cp.cosignatures.map((c) => c.name).sort()).toEqual(["m.dr.test/m", "w.dr.test/w"]);
    const after = await runCli(["verify", "--data", restored, "--key", logKey, "--from", oldFile]);
    expect(after.code, after.stdout).toBe(0);
  });
});
