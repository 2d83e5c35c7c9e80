// Finds and loads native/ed25519 (kubetrail's libsodium addon), which `npm run build:native`
// builds against Debian's libsodium-dev. It is optional: without it Ed25519 runs on node:crypto.

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The addon's functions (native/ed25519/ed25519.c). */
export interface SodiumAddon {
  makeSigner(seed: Uint8Array): object;
  publicKey(signer: object): Buffer;
  sign(signer: object, msg: Uint8Array): Buffer;
  sign(signer: object, msg: Uint8Array, async: true): Promise<Buffer>;
  verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean;
  verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array, async: true): Promise<boolean>;
}

export type AddonLoad =
  { loaded: true; addon: SodiumAddon; file: string } | { loaded: false; reason: string };

const ADDON = path.join("native", "ed25519", "build", "Release", "kubetrail_ed25519.node");

/**
 * The addon beside this package: looked for above this module, since the module runs from
 * src/ (tests), build/ (benches) or dist/ (the command), each at its own depth.
 */
export function loadSodiumAddon(from: string = fileURLToPath(import.meta.url)): AddonLoad {
  let dir = path.dirname(from);
  for (let up = 0; up < 5; up++, dir = path.dirname(dir)) {
    const file = path.join(dir, ADDON);
    if (!existsSync(file)) continue;
    try {
      return { loaded: true, addon: createRequire(from)(file) as SodiumAddon, file };
    } catch (err) {
      return { loaded: false, reason: `the addon ${file} does not load: ${(err as Error).message}` };
    }
  }
  return { loaded: false, reason: `the addon ${ADDON} is not built (npm run build:native)` };
}
