// The witness's Ed25519 threads, run from the sources as in `kubetrail witness`: answers equal
// to node:crypto's in this thread, bad signatures refused, the threads' own priority lowered
// (and nothing else's), and a thread that dies failing its jobs with a clear error and being
// replaced — never a hang.
import { createHash, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { testSeed } from "../../test/fixtures/seed.js";
import { workerModule } from "../worker/start.js";
import { Ed25519Pool } from "./ed25519-pool.js";
import { WitnessError } from "./errors.js";

const rawPublic = (k: KeyObject): Uint8Array =>
  new Uint8Array(k.export({ format: "der", type: "spki" }).subarray(-32));

/** Name and nice value of each thread of this process. */
function threads(): { tid: number; name: string; nice: number }[] {
  const out = [];
  for (const t of readdirSync("/proc/self/task")) {
    let stat;
    try {
      stat = readFileSync(`/proc/self/task/${t}/stat`, "utf8");
    } catch {
      continue; // a thread that ended meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    out.push({
      tid: Number(t),
      name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
      nice: Number(fields[16]),
    });
  }
  return out;
}

describe("Ed25519Pool", () => {
  const pools: Ed25519Pool[] = [];
  const pool = (opts: ConstructorParameters<typeof Ed25519Pool>[0] = {}): Ed25519Pool => {
    const p = new Ed25519Pool(opts);
    pools.push(p);
    return p;
  };
  afterEach(async () => {
    for (const p of pools.splice(0)) await p.close();
  });

  it("checks and makes signatures as node:crypto does, over many batches and keys", async () => {
    const seed = testSeed(25_007);
    console.log(`ed25519 pool seed ${seed}`);
    // Bytes from SHA-256 of (seed, counter): repeatable for a seed.
    let counter = 0;
    const rand = (): number =>
      createHash("sha256").update(`${seed}:${counter++}`).digest().readUInt32BE(0) / 2 ** 32;
    const keys = Array.from({ length: 3 }, () => generateKeyPairSync("ed25519"));
    const threads = pool({ threads: 2 });
    const cases = Array.from({ length: 300 }, (_, i) => {
      const k = keys[i % keys.length]!;
      const msg = Uint8Array.from({ length: Math.floor(rand() * 400) }, () => Math.floor(rand() * 256));
      const sig = new Uint8Array(sign(null, msg, k.privateKey));
      const kind = Math.floor(rand() * 4);
      // 0: valid; 1: one bit of the signature flipped; 2: a different message; 3: another key.
      if (kind === 1) sig[Math.floor(rand() * 64)]! ^= 1 << Math.floor(rand() * 8);
      const checked = kind === 2 ? Uint8Array.of(...msg, 1) : msg;
      const by = kind === 3 ? keys[(i + 1) % keys.length]! : k;
      return { k, msg, sig, checked, by, valid: kind === 0 };
    });
    // Asked for in several turns of the event loop, so the jobs go over in several batches.
    const answers: Promise<boolean>[] = [];
    const signed: Promise<Uint8Array>[] = [];
    for (const [i, c] of cases.entries()) {
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
      answers.push(threads.verify(rawPublic(c.by.publicKey), c.checked, c.sig));
      signed.push(threads.sign(c.k.privateKey, c.msg));
    }
    const got = await Promise.all(answers);
    expect(got).toEqual(cases.map((c) => verify(null, c.checked, c.by.publicKey, c.sig)));
    expect(got).toEqual(cases.map((c) => c.valid));
    expect(got.filter(Boolean).length).toBeGreaterThan(30);
    const sigs = await Promise.all(signed);
    // Ed25519 is deterministic: the very bytes node:crypto makes here.
    expect(sigs.map((s) => Buffer.from(s).toString("hex"))).toEqual(
      cases.map((c) => sign(null, c.msg, c.k.privateKey).toString("hex")),
    );
  });

  it("refuses malformed keys and signatures without a rejection", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const msg = Buffer.from("checkpoint");
    const sig = new Uint8Array(sign(null, msg, privateKey));
    const threads = pool({ threads: 1 });
    await expect(threads.verify(rawPublic(publicKey), msg, sig.subarray(0, 63))).resolves.toBe(false);
    await expect(threads.verify(rawPublic(publicKey).subarray(1), msg, sig)).resolves.toBe(false);
    // 32 bytes that are not a point of the curve.
    await expect(threads.verify(new Uint8Array(32).fill(0xff), msg, sig)).resolves.toBe(false);
    await expect(threads.verify(new Uint8Array(64), msg, new Uint8Array(64))).resolves.toBe(false);
    await expect(threads.verify(rawPublic(publicKey), msg, sig)).resolves.toBe(true);
  });

  it("runs its threads below this thread's priority and leaves the others' alone", async () => {
    const { privateKey } = generateKeyPairSync("ed25519");
    const before = new Map(threads().map((t) => [t.tid, t.nice]));
    const mine = os.getPriority(0);
    const threadsPool = pool({ threads: 2, lower: 7 });
    await Promise.all([1, 2, 3, 4].map((n) => threadsPool.sign(privateKey, Uint8Array.of(n))));
    const after = threads();
    const ed = after.filter((t) => t.name === "kt-ed25519");
    expect(ed).toHaveLength(2);
    for (const t of ed) expect(t.nice).toBe(Math.min(19, mine + 7));
    expect(os.getPriority(0)).toBe(mine);
    for (const t of after)
      if (t.name !== "kt-ed25519" && before.has(t.tid)) expect(t.nice).toBe(before.get(t.tid));
  });

  it("fails the jobs of a thread that dies with a clear error and serves the next ones on a new thread", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const threads = pool({
      threads: 1,
      module: workerModule(import.meta.url, "testdata/ed25519-dying-worker"),
    });
    const ok = Buffer.from("fine");
    const sig = new Uint8Array(sign(null, ok, privateKey));
    await expect(threads.verify(rawPublic(publicKey), ok, sig)).resolves.toBe(true);
    // Both jobs are asked for in one turn, so they go in the batch that kills the thread.
    const lost = [
      threads.sign(privateKey, Buffer.from("die-now")),
      threads.verify(rawPublic(publicKey), ok, sig),
    ];
    for (const p of lost) {
      const err = await p.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WitnessError);
      expect(err).toMatchObject({ code: "crypto-thread" });
      expect((err as Error).message).toMatch(
        /Ed25519 thread stopped \(exit code 7\); its Ed25519 jobs failed/,
      );
    }
    await expect(threads.verify(rawPublic(publicKey), ok, sig)).resolves.toBe(true);
    expect(Buffer.from(await threads.sign(privateKey, ok)).toString("hex")).toBe(
      sign(null, ok, privateKey).toString("hex"),
    );
  });

  it("fails jobs once closed", async () => {
    const { privateKey } = generateKeyPairSync("ed25519");
    const threads = pool({ threads: 1 });
    const pending = threads.sign(privateKey, Buffer.from("x"));
    await threads.close();
    await expect(pending).rejects.toMatchObject({ code: "crypto-thread" });
    await expect(threads.sign(privateKey, Buffer.from("y"))).rejects.toThrow(
      "the Ed25519 threads are closed",
    );
  });
});
