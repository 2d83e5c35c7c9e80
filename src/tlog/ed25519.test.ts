import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeRng } from "../../bench/gen/rng.js";
import { testSeed } from "../../test/fixtures/seed.js";
import { loadSodiumAddon, type AddonLoad } from "./ed25519-addon.js";
import {
  chooseEd25519Backend,
  ed25519,
  nodeCryptoEd25519,
  sodiumEd25519,
  type Ed25519Backend,
} from "./ed25519.js";

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

// RFC 8032, section 7.1, tests 1 and 2: seed, public key, message, signature.
const RFC8032 = [
  [
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    "",
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  ],
  [
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    "72",
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  ],
].map(([seed, pub, msg, sig]) => ({ seed: hex(seed!), pub: hex(pub!), msg: hex(msg!), sig: hex(sig!) }));

const sodium = loadSodiumAddon();
// CI builds the addon (scripts/test.sh), so there a missing addon fails here instead of
// leaving the libsodium backend untested.
if (!sodium.loaded && process.env["CI"] === "true")
  throw new Error(`CI without the libsodium addon: ${sodium.reason}`);
const backends: Ed25519Backend[] = [
  nodeCryptoEd25519,
  ...(sodium.loaded ? [sodiumEd25519(sodium.addon)] : []),
];

describe.each(backends.map((b) => [b.name, b] as const))("Ed25519 on %s", (_, backend) => {
  it("signs and verifies RFC 8032's test vectors, synchronously and on the pool", async () => {
    for (const v of RFC8032) {
      const key = backend.signingKey(v.seed);
      expect(Buffer.from(key.sign(v.msg)).toString("hex")).toBe(Buffer.from(v.sig).toString("hex"));
      expect(await key.signAsync(v.msg)).toEqual(v.sig);
      const pub = backend.verifyingKey(v.pub);
      expect(pub.verify(v.msg, v.sig)).toBe(true);
      expect(await pub.verifyAsync(v.msg, v.sig)).toBe(true);
    }
  });

  it("refuses, without throwing, a changed message, a changed signature, another key and a short signature", async () => {
    const [a, b] = RFC8032;
    const pub = backend.verifyingKey(a!.pub);
    const other = backend.verifyingKey(b!.pub);
    const badSig = Uint8Array.from(a!.sig);
    badSig[10]! ^= 1;
    for (const [p, msg, sig] of [
      [pub, Uint8Array.of(1), a!.sig],
      [pub, a!.msg, badSig],
      [other, a!.msg, a!.sig],
      [pub, a!.msg, a!.sig.subarray(0, 63)],
      [pub, a!.msg, new Uint8Array(65)],
    ] as const) {
      expect(p.verify(msg, sig)).toBe(false);
      expect(await p.verifyAsync(msg, sig)).toBe(false);
    }
  });
});

describe("the two backends", () => {
  it.runIf(sodium.loaded)("make the same signatures and accept each other's (seeded)", async () => {
    const seed = testSeed(25);
    console.log(`ed25519 backends seed ${seed} (KUBETRAIL_TEST_SEED=${seed} to repeat)`);
    const rng = makeRng(seed);
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => rng.int(256));
    const [node, lib] = backends as [Ed25519Backend, Ed25519Backend];
    for (let i = 0; i < 200; i++) {
      const keySeed = bytes(32);
      const msg = bytes((i * 37) % 2000);
      const sig = node.signingKey(keySeed).sign(msg);
      expect(await lib.signingKey(keySeed).signAsync(msg), `pair ${i}`).toEqual(sig);
      const vkey = node.signingKey(keySeed).publicKey;
      const flipped = Uint8Array.from(sig);
      flipped[i % 64]! ^= 1 << (i % 8);
      for (const b of backends) {
        expect(b.verifyingKey(vkey).verify(msg, sig), `${b.name} pair ${i}`).toBe(true);
        expect(await b.verifyingKey(vkey).verifyAsync(msg, flipped), `${b.name} pair ${i} flipped`).toBe(
          false,
        );
      }
    }
  });

  it("the process's choice: libsodium when its addon is built, node:crypto otherwise", () => {
    expect(ed25519.name).toBe(sodium.loaded ? "libsodium" : "node:crypto");
  });

  it("KUBETRAIL_ED25519 forces a backend, and refuses a missing addon or an unknown name", () => {
    const missing = (): AddonLoad => ({ loaded: false, reason: "the addon is not built" });
    expect(chooseEd25519Backend("node-crypto").name).toBe("node:crypto");
    expect(chooseEd25519Backend(undefined, missing).name).toBe("node:crypto");
    expect(() => chooseEd25519Backend("libsodium", missing)).toThrow(
      "KUBETRAIL_ED25519=libsodium, but the addon is not built",
    );
    expect(() => chooseEd25519Backend("openssl")).toThrow("expected node-crypto or libsodium");
    if (sodium.loaded) expect(chooseEd25519Backend("libsodium").name).toBe("libsodium");
  });

  it("says how to build the addon when it is not there", () => {
    const away = loadSodiumAddon(path.join(mkdtempSync(path.join(tmpdir(), "kt-ed25519-")), "a", "b.js"));
    expect(away).toEqual({ loaded: false, reason: expect.stringContaining("npm run build:native") });
  });
});
