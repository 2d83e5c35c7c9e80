// Ed25519 behind one small interface, with two implementations that give byte-identical
// signatures (Ed25519 is deterministic): node:crypto, always there, and libsodium through
// kubetrail's own addon (native/ed25519), used when it has been built because it does the same
// work in about half the CPU time. A witness does one verification and one signature per
// request, so this is most of what a cosignature costs.
//
// KUBETRAIL_ED25519=node-crypto forces node:crypto (to compare the two); =libsodium makes a
// missing addon an error instead of a quiet fallback.

import {
  createPrivateKey,
  createPublicKey,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from "node:crypto";
import { loadSodiumAddon, type AddonLoad, type SodiumAddon } from "./ed25519-addon.js";

/** A private key that signs; the key itself stays inside the object. */
export interface Ed25519SigningKey {
  /** The matching 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** The 64-byte signature of msg. */
  sign(msg: Uint8Array): Uint8Array;
  /** sign, on libuv's thread pool: a server keeps its event loop for the network. */
  signAsync(msg: Uint8Array): Promise<Uint8Array>;
}

/** A public key that checks signatures: false, never a throw, for anything malformed. */
export interface Ed25519VerifyingKey {
  verify(msg: Uint8Array, sig: Uint8Array): boolean;
  /** verify, on libuv's thread pool. */
  verifyAsync(msg: Uint8Array, sig: Uint8Array): Promise<boolean>;
}

export interface Ed25519Backend {
  readonly name: "node:crypto" | "libsodium";
  /** The key of a 32-byte seed (RFC 8032's private key). */
  signingKey(seed: Uint8Array): Ed25519SigningKey;
  /** The key of a 32-byte public key. */
  verifyingKey(publicKey: Uint8Array): Ed25519VerifyingKey;
}

// DER headers that wrap a raw 32-byte Ed25519 seed (PKCS#8) or public key (SPKI) for node:crypto.
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");
const SIGNATURE_BYTES = 64;

/** node:crypto's private key object of a 32-byte seed. */
function nodePrivateKey(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: "der", type: "pkcs8" });
}

/** The raw 32-byte public key of a node:crypto Ed25519 key object. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const der = createPublicKey(key).export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(der.length - 32));
}

export const nodeCryptoEd25519: Ed25519Backend = {
  name: "node:crypto",
  signingKey(seed) {
    const key = nodePrivateKey(seed);
    return {
      publicKey: rawPublicKey(key),
      sign: (msg) => new Uint8Array(nodeSign(null, msg, key)),
      signAsync: (msg) =>
        new Promise((resolve, reject) =>
          nodeSign(null, msg, key, (err, sig) => (err ? reject(err) : resolve(new Uint8Array(sig)))),
        ),
    };
  },
  verifyingKey(publicKey) {
    const key = createPublicKey({
      key: Buffer.concat([SPKI_ED25519, publicKey]),
      format: "der",
      type: "spki",
    });
    return {
      verify(msg, sig) {
        if (sig.length !== SIGNATURE_BYTES) return false;
        try {
          return nodeVerify(null, msg, key, sig);
        } catch {
          return false;
        }
      },
      verifyAsync(msg, sig) {
        if (sig.length !== SIGNATURE_BYTES) return Promise.resolve(false);
        return new Promise((resolve) => {
          try {
            nodeVerify(null, msg, key, sig, (err, ok) => resolve(!err && ok));
          } catch {
            resolve(false);
          }
        });
      },
    };
  },
};

/** The libsodium backend over a loaded addon. */
export function sodiumEd25519(addon: SodiumAddon): Ed25519Backend {
  return {
    name: "libsodium",
    signingKey(seed) {
      const signer = addon.makeSigner(seed);
      return {
        publicKey: new Uint8Array(addon.publicKey(signer)),
        sign: (msg) => new Uint8Array(addon.sign(signer, msg)),
        signAsync: async (msg) => new Uint8Array(await addon.sign(signer, msg, true)),
      };
    },
    verifyingKey(publicKey) {
      // A copy, as node:crypto's key object is: the key must not change if the caller reuses
      // its buffer.
      const key = Uint8Array.from(publicKey);
      return {
        verify: (msg, sig) => sig.length === SIGNATURE_BYTES && addon.verify(key, msg, sig),
        verifyAsync: (msg, sig) =>
          sig.length === SIGNATURE_BYTES ? addon.verify(key, msg, sig, true) : Promise.resolve(false),
      };
    },
  };
}

/**
 * The backend for a KUBETRAIL_ED25519 setting: "node-crypto", "libsodium" (the addon or an
 * error) or unset (the addon when it loads). Anything else is an error, not a guess.
 */
export function chooseEd25519Backend(
  wanted: string | undefined,
  load: () => AddonLoad = loadSodiumAddon,
): Ed25519Backend {
  if (wanted === "node-crypto") return nodeCryptoEd25519;
  if (wanted !== undefined && wanted !== "" && wanted !== "libsodium")
    throw new Error(`KUBETRAIL_ED25519=${wanted}: expected node-crypto or libsodium`);
  const addon = load();
  if (addon.loaded) return sodiumEd25519(addon.addon);
  if (wanted === "libsodium") throw new Error(`KUBETRAIL_ED25519=libsodium, but ${addon.reason}`);
  return nodeCryptoEd25519;
}

/** The backend every key in kubetrail uses, chosen once per process. */
export const ed25519: Ed25519Backend = chooseEd25519Backend(process.env["KUBETRAIL_ED25519"]);
