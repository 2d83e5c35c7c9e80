// `kubetrail keys rotate`: replacing the log's signing key without a restart and without a
// gap in what auditors can check.
//
//   begin   a new key is made; a KeyEvent "added" endorsed by the current key is appended;
//           once a checkpoint covers it, every checkpoint is signed by both keys (the overlap:
//           witnesses, mirrors and auditors add the new key to what they trust).
//   finish  the old key stops signing; a KeyEvent "retired" endorsed by the new key is
//           appended; once a checkpoint covers it, the new key becomes the log's key and the
//           old one is kept only as a verifier key (retired.vkeys).
//
// Each step is done by whoever holds the log open: `serve` (it takes requests from the CLI in
// DATA/keys/rotation-request) or the CLI itself when nothing else has the log open. A step
// interrupted by a crash is resumed by running it again.
import type { AuditLog } from "../store/types.js";
import { generateNoteKey } from "../tlog/index.js";
import { encodeKeyEvent, makeKeyEvent } from "./key-event.js";
import { KEY_FILES, type Keyring } from "./keyring.js";
import { KeysError } from "./errors.js";

export type RotationAction = "begin" | "finish";

/** A rotation that cannot proceed now (its state) or could not be written. */
export class RotationError extends KeysError {}

async function appendCovered(log: AuditLog, ring: Keyring, entry: Uint8Array): Promise<number> {
  const { firstIndex } = await log.append([entry]);
  await ring.recordEvent(firstIndex);
  // Waits until a checkpoint covers the KeyEvent (and makes integration run now).
  await log.waitIntegrated(firstIndex + 1);
  return firstIndex;
}

/** Runs `action` on the open log whose keys are `ring`; returns what was done, for the operator. */
export async function rotationStep(log: AuditLog, ring: Keyring, action: RotationAction): Promise<string> {
  if (action === "begin") {
    if (ring.phase === "overlap" || ring.phase === "retiring")
      throw new RotationError(
        "state",
        `a rotation is already under way (${ring.phase}, new key ${ring.nextSigner!.verifierKey}): finish it with keys rotate --finish`,
      );
    if (ring.phase === "none") {
      const generated = generateNoteKey(ring.origin);
      await ring.write(KEY_FILES.next, generated.signerKey, 0o600);
      await ring.write(KEY_FILES.nextVerifier, generated.verifierKey);
      await ring.write(KEY_FILES.rotation, JSON.stringify({ phase: "adding" }));
      await ring.reload();
    }
    const next = ring.nextSigner!;
    const event = await makeKeyEvent(
      "added",
      next.verifierKey,
      ring.primarySigner,
      ring.primarySigner.verifierKey,
    );
    const addedAt = await appendCovered(log, ring, encodeKeyEvent(event));
    await ring.write(KEY_FILES.rotation, JSON.stringify({ phase: "overlap", addedAt }));
    await ring.reload();
    return (
      `new key ${next.verifierKey} added at entry ${addedAt}; checkpoints are now signed by both keys.\n` +
      `Add it to your witnesses' and mirrors' logs files and give it to auditors, then run keys rotate --finish.`
    );
  }
  if (ring.phase === "none" || ring.phase === "adding")
    throw new RotationError("state", "no rotation to finish: start one with keys rotate");
  const old = ring.primarySigner;
  const next = ring.nextSigner!;
  if (ring.phase === "overlap") {
    // The old key stops signing before its retirement is in the log: no checkpoint that
    // covers the retirement is signed by it.
    await ring.write(KEY_FILES.rotation, JSON.stringify({ phase: "retiring", addedAt: ring.addedAt }));
    await ring.reload();
  }
  const event = await makeKeyEvent("retired", old.verifierKey, next, next.verifierKey);
  const retiredAt = await appendCovered(log, ring, encodeKeyEvent(event));
  const retired = ring.verifiers.filter((v) => v.key !== next.verifierKey).map((v) => v.key!);
  await ring.complete([...new Set(retired)]);
  return (
    `old key ${old.verifierKey} retired at entry ${retiredAt}; the log's key is now ${next.verifierKey}.\n` +
    `Checkpoints it signed before remain valid; one it signs after entry ${retiredAt} is rejected.`
  );
}
