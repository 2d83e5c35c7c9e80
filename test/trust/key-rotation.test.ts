// Key rotation (kubetrail keys rotate): a new key, both keys signing during the overlap, the old
// key retired, each step a KeyEvent in the log. verify follows the keys from any pinned one;
// evidence bundles from before and after still verify; a checkpoint the retired key signs after
// its retirement is rejected; and a running serve rotates without a restart, acknowledging
// every event meanwhile.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEvents, toEventList } from "../../bench/gen/events.js";
import { NoteSigner, openCheckpoint, NoteVerifier, signNote, splitNote } from "../../src/tlog/index.js";
import { originHash } from "../../src/witness/witness.js";
import { runCli } from "../fixtures/cli.js";
import { serveStaticLog } from "../fixtures/static-log.js";
import { buildGoInterop, runGo, skipGo } from "../interop/go-helper.js";
import { call, postEvents, requireBuiltCli, sleep, startServe, type Serve } from "../faults/serve-process.js";

const append = (dir: string, n: number, tag: string) =>
  runCli(
    ["append", "--data", dir],
    Array.from({ length: n }, (_, i) => JSON.stringify({ tag, i })).join("\n") + "\n",
  );

describe("key rotation", () => {
  let dir = "";
  beforeAll(() => {
    requireBuiltCli();
    dir = mkdtempSync(path.join(os.tmpdir(), "kubetrail-rotation-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("follows the keys from any pinned one, keeps old bundles valid, rejects the retired key signing again", async () => {
    const log = path.join(dir, "offline");
    const k1 = (await runCli(["keys", "--data", log, "--origin", "rotation.test/log"])).stdout.trim();
    expect((await append(log, 20, "before")).code).toBe(0);
    copyFileSync(path.join(log, "checkpoint"), path.join(dir, "c1"));
    const exportBundle = async (file: string) => {
      const r = await runCli(["export", "--data", log, "-o", file, "--since", "100000d"]);
      expect(r.code, r.stderr).toBe(0);
    };
    await exportBundle(path.join(dir, "b1.json"));

    const begin = await runCli(["keys", "rotate", "--data", log]);
    expect(begin.code, begin.stderr).toBe(0);
    const k2 = /new key (\S+) added at entry 20/.exec(begin.stdout)![1]!;
    await append(log, 5, "overlap");
    // During the overlap every checkpoint carries both signatures: either key opens it alone.
    const overlap = readFileSync(path.join(log, "checkpoint"), "utf8");
    expect(openCheckpoint(overlap, NoteVerifier.fromKey(k1)).size).toBe(26);
    expect(openCheckpoint(overlap, NoteVerifier.fromKey(k2)).size).toBe(26);
    // So does Go's golang.org/x/mod/sumdb/note, the other line left unverified.
    if (!skipGo) {
      const binary = buildGoInterop(dir);
      for (const k of [k1, k2]) {
        const go = runGo<{ signers: string[]; size: number }>(binary, "check", {
          verifierKey: k,
          checkpoint: overlap,
        });
        expect(go).toMatchObject({ size: 26, signers: [k.split("+").slice(0, 2).join("+")] });
      }
    }
    // What a thief of the old key would have.
    const stolen = NoteSigner.fromKey(readFileSync(path.join(log, "keys", "signing.key"), "utf8").trim());
    const finish = await runCli(["keys", "rotate", "--data", log, "--finish"]);
    expect(finish.code, finish.stderr).toBe(0);
    expect(finish.stdout).toContain("retired at entry 26");
    await append(log, 10, "after");
    const after = readFileSync(path.join(log, "checkpoint"), "utf8");
    expect(splitNote(after).signatures.map((s) => s.keyHash)).toEqual([NoteVerifier.fromKey(k2).keyHash]);
    await exportBundle(path.join(dir, "b2.json"));

    const verify = (keys: string[], extra: string[] = []) =>
      runCli(["verify", "--data", log, ...keys.flatMap((k) => ["--key", k]), "-o", "json", ...extra]);
    for (const keys of [[k1], [k2], [k1, k2]]) {
      const v = await verify(keys, ["--from", path.join(dir, "c1")]);
      expect(v.code, `${keys.length} key(s): ${v.stdout}`).toBe(0);
      expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, size: 37, trustedSize: 20 });
    }
    // Bundles made before and after the rotation verify with the key an auditor pinned first.
    for (const b of ["b1.json", "b2.json"]) {
      const r = await runCli(["verify-bundle", path.join(dir, b), "--key", k1]);
      expect(r.code, `${b}: ${r.stderr}`).toBe(0);
    }
    expect((await runCli(["verify-bundle", path.join(dir, "b2.json"), "--key", k2])).code).toBe(0);

    // The retired key signs the current tree: rejected, alone or beside the new key.
    const text = splitNote(after).text;
    const own = splitNote(after).signatures;
    for (const [what, forged] of [
      ["alone", await signNote(text, [stolen])],
      ["beside the new key", await signNote(text, [stolen], own)],
    ] as const) {
      writeFileSync(path.join(log, "checkpoint"), forged);
      const v = await verify([k1]);
      expect(v.code, what).toBe(1);
      expect(JSON.parse(v.stdout).problems).toContainEqual(
        expect.objectContaining({
          code: "retired-key",
          message: expect.stringContaining("retired at entry 26"),
        }),
      );
      const bundle = JSON.parse(readFileSync(path.join(dir, "b2.json"), "utf8")) as { checkpoint: string };
      bundle.checkpoint = forged;
      writeFileSync(path.join(dir, "b2-forged.json"), JSON.stringify(bundle));
      const r = await runCli(["verify-bundle", path.join(dir, "b2-forged.json"), "--key", k1]);
      expect(r.code, what).toBe(1);
      expect(r.stderr).toContain("retired at entry 26");
    }
    writeFileSync(path.join(log, "checkpoint"), after);
  });

  it("an auditor's pull mirror goes on across a rotation, given the old and the new key", async () => {
    const log = path.join(dir, "pulled");
    const k1 = (await runCli(["keys", "--data", log, "--origin", "rotation.test/pulled"])).stdout.trim();
    expect((await append(log, 20, "before")).code).toBe(0);
    const server = createServer((req, res) =>
      serveStaticLog(log, decodeURIComponent((req.url ?? "/").replace(/^\/log\//, "")), req, res),
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/log/`;
      const mirror = path.join(dir, "auditor-copy");
      const pull = (...keys: string[]) =>
        runCli(["mirror", "--data", mirror, "--from", url, ...keys.flatMap((k) => ["--key", k]), "--once"]);
      expect((await pull(k1)).stdout).toContain("20 entries mirrored (20 new)");

      const k2 = /new key (\S+) added/.exec((await runCli(["keys", "rotate", "--data", log])).stdout)![1]!;
      await append(log, 5, "overlap");
      expect((await runCli(["keys", "rotate", "--data", log, "--finish"])).code).toBe(0);
      await append(log, 10, "after");
      // The log's checkpoint is now the new key's alone: the old key by itself no longer opens it.
      const oldOnly = await pull(k1);
      expect(oldOnly.code).toBe(1);
      expect(oldOnly.stderr).toContain("not signed by any known key");
      // The new key alone does not open the checkpoint the copy holds.
      expect((await pull(k2)).code).toBe(1);
      const both = await pull(k1, k2);
      expect(both.code, both.stderr).toBe(0);
      expect(both.stdout).toContain("37 entries mirrored (17 new)");
      // The copy verifies from the old key, following the log's KeyEvents.
      const copy = path.join(mirror, "logs", originHash("rotation.test/pulled"));
      const v = await runCli(["verify", "--data", copy, "--key", k1, "-o", "json"]);
      expect(v.code, v.stdout).toBe(0);
      expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, size: 37 });
      const other = (await runCli(["keys", "--data", path.join(dir, "other"), "--origin", "other.test/log"]))
        .stdout;
      const otherLog = await pull(k1, other.trim());
      expect(otherLog.code).toBe(2);
      expect(otherLog.stderr).toContain("the keys name different logs");
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("a running serve rotates without a restart, acknowledging every event meanwhile", async () => {
    const data = path.join(dir, "live");
    const k1 = (await runCli(["keys", "--data", data, "--origin", "rotation.test/live"])).stdout.trim();
    let serve: Serve | undefined = await startServe(data, ["--no-detect"]);
    try {
      const s = serve;
      let stop = false;
      let acked = 0;
      let refused = 0;
      let seed = 1;
      const traffic = (async () => {
        while (!stop) {
          const r = await postEvents(
            s,
            JSON.stringify(toEventList(generateEvents({ seed: seed++, count: 5 }))),
          );
          if (r.status === 200) acked += 5;
          else refused++;
        }
      })();
      await sleep(500);
      const begin = await runCli(["keys", "rotate", "--data", data]);
      expect(begin.code, begin.stderr).toBe(0);
      const k2 = /new key (\S+) added/.exec(begin.stdout)![1]!;
      await sleep(500);
      const both = (await call(s, { path: "/log/checkpoint" })).body;
      expect(splitNote(both).signatures).toHaveLength(2);
      const finish = await runCli(["keys", "rotate", "--data", data, "--finish"]);
      expect(finish.code, finish.stderr).toBe(0);
      await sleep(500);
      stop = true;
      await traffic;
      expect(refused).toBe(0);
      expect(acked).toBeGreaterThan(20);
      const last = (await call(s, { path: "/log/checkpoint" })).body;
      expect(splitNote(last).signatures.map((x) => x.keyHash)).toEqual([NoteVerifier.fromKey(k2).keyHash]);
      await s.kill("SIGTERM");
      serve = undefined;
      const v = await runCli(["verify", "--data", data, "--key", k1, "-o", "json"]);
      expect(v.code, v.stdout).toBe(0);
      expect(JSON.parse(v.stdout).entries).toBe(acked + 2);
      // The log now opens with the new key: `keys` prints it.
      expect((await runCli(["keys", "--data", data])).stdout.trim()).toBe(k2);
    } finally {
      await serve?.kill("SIGKILL");
    }
  });
});
