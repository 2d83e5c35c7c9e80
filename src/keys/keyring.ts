// The log's signing keys in DATA/keys/, through a key rotation:
//
//   signing.key, verifier.key   the log's key (the one auditors pinned)
//   next.key, next.vkey         the new key, while a rotation is under way
//   rotation.json               how far the rotation is: {"phase": …, "addedAt": <entry>}
//   retired.vkeys               verifier keys of retired keys, one per line (old checkpoints)
//
// Phases: "adding" (the new key exists; its KeyEvent is being appended), "overlap" (both keys
// sign every checkpoint: witnesses and auditors move to the new key), "retiring" (only the new
// key signs; the old key's retirement is being appended). Then the new key becomes signing.key.
// The keyring is what the log core reads its signers from at each publish, so a rotation takes
// effect without a restart: rotation.ts changes the files and calls reload().
import { promises as fsp } from "node:fs";
import path from "node:path";
import { isRecord } from "../json/record.js";
import { fsyncDir, readFileIfExists, writeFileAtomic } from "../store/durable-file.js";
import { LogError } from "../store/types.js";
import { NoteSigner, NoteVerifier, type Signer, type Verifier } from "../tlog/index.js";

export type RotationPhase = "none" | "adding" | "overlap" | "retiring";

export const KEY_FILES = {
  signing: "signing.key",
  verifier: "verifier.key",
  next: "next.key",
  nextVerifier: "next.vkey",
  rotation: "rotation.json",
  retired: "retired.vkeys",
  /** Log indexes of the log's KeyEvents, one per line (for evidence bundles). */
  events: "key-events",
} as const;

/** Keyrings of logs open in this process, by keys directory: one writer holds a log's keys. */
const open = new Map<string, Keyring>();

export class Keyring {
  private primary!: NoteSigner;
  private next: NoteSigner | null = null;
  private retired: NoteVerifier[] = [];
  private phaseValue: RotationPhase = "none";
  private addedAtValue: number | null = null;

  private constructor(readonly dir: string) {}

  /** Loads the keys in `dir` (signing.key must exist) and registers them for this process. */
  static async load(dir: string): Promise<Keyring> {
    const ring = new Keyring(path.resolve(dir));
    await ring.reload();
    open.set(ring.dir, ring);
    return ring;
  }

  /** The keyring of the log whose keys are in `dir`, if that log is open in this process. */
  static opened(dir: string): Keyring | undefined {
    return open.get(path.resolve(dir));
  }

  /** Reads the files again (after a rotation step changed them), finishing an interrupted last step. */
  async reload(): Promise<void> {
    const read = async (name: string): Promise<string | undefined> =>
      (await readFileIfExists(path.join(this.dir, name)))?.toString("utf8").trim();
    const skey = await read(KEY_FILES.signing);
    if (skey === undefined) throw new LogError("corrupt", `${this.dir}: no ${KEY_FILES.signing}`);
    const primary = NoteSigner.fromKey(skey);
    const vkey = await read(KEY_FILES.verifier);
    if (vkey !== primary.verifierKey) {
      // complete() renames next.key to signing.key, then rewrites verifier.key: a crash in
      // between leaves next.vkey naming the new signing key.
      if ((await read(KEY_FILES.nextVerifier)) !== primary.verifierKey)
        throw new LogError(
          "corrupt",
          `${this.dir}: ${KEY_FILES.verifier} does not belong to ${KEY_FILES.signing}`,
        );
      await this.finishCompletion(primary.verifierKey);
    }
    const nextKey = await read(KEY_FILES.next);
    const next = nextKey === undefined ? null : NoteSigner.fromKey(nextKey);
    const rotation = await read(KEY_FILES.rotation);
    let phase: RotationPhase = "none";
    let addedAt: number | null = null;
    if (rotation !== undefined) {
      const doc: unknown = JSON.parse(rotation);
      if (!isRecord(doc) || !["adding", "overlap", "retiring"].includes(String(doc["phase"])))
        throw new LogError("corrupt", `${path.join(this.dir, KEY_FILES.rotation)}: not a rotation state`);
      phase = doc["phase"] as RotationPhase;
      addedAt = typeof doc["addedAt"] === "number" ? doc["addedAt"] : null;
    }
    if ((await read(KEY_FILES.nextVerifier)) === primary.verifierKey && !nextKey) {
      await this.finishCompletion(primary.verifierKey);
      phase = "none";
    }
    if (phase !== "none" && !next)
      throw new LogError(
        "corrupt",
        `${this.dir}: a rotation is under way (${phase}) but ${KEY_FILES.next} is missing`,
      );
    if (next && next.name !== primary.name)
      throw new LogError(
        "corrupt",
        `${this.dir}: ${KEY_FILES.next} is named "${next.name}", not "${primary.name}"`,
      );
    const retired = ((await read(KEY_FILES.retired)) ?? "")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => NoteVerifier.fromKey(l.trim()));
    this.primary = primary;
    this.next = phase === "none" ? null : next;
    this.phaseValue = phase;
    this.addedAtValue = addedAt;
    this.retired = retired;
  }

  get origin(): string {
    return this.primary.name;
  }
  get phase(): RotationPhase {
    return this.phaseValue;
  }
  /** The log index of the new key's KeyEvent, once appended. */
  get addedAt(): number | null {
    return this.addedAtValue;
  }
  get primarySigner(): NoteSigner {
    return this.primary;
  }
  get nextSigner(): NoteSigner | null {
    return this.next;
  }

  /** The key that signs first (LogKeys.signer). */
  get signer(): Signer {
    return this.phaseValue === "retiring" ? this.next! : this.primary;
  }

  /** Every key that signs each checkpoint now (LogKeys.signers). */
  get signers(): readonly Signer[] {
    if (this.phaseValue === "overlap") return [this.primary, this.next!];
    return [this.signer];
  }

  /** Every key of the log, retired ones included: they open the checkpoints the log signed. */
  get verifiers(): readonly Verifier[] {
    const keys = [this.primary.verifierKey, ...(this.next ? [this.next.verifierKey] : [])].map((k) =>
      NoteVerifier.fromKey(k),
    );
    return [...keys, ...this.retired.filter((r) => !keys.some((k) => k.key === r.key))];
  }

  /** The verifier key auditors pinned (the new one once a rotation is finished). */
  get verifierKey(): string {
    return this.primary.verifierKey;
  }

  /** Notes the log index of a KeyEvent just appended. */
  async recordEvent(index: number): Promise<void> {
    const known = await readKeyEventIndexes(path.dirname(this.dir));
    if (!known.includes(index)) await this.write(KEY_FILES.events, [...known, index].join("\n"));
  }

  /**
   * The last step of a rotation: the old key's verifier key joins `retired`, and the new key
   * becomes the log's key (next.key renamed to signing.key, then verifier.key rewritten).
   */
  async complete(retired: readonly string[]): Promise<void> {
    await this.write(KEY_FILES.retired, retired.join("\n"));
    await fsp.rename(path.join(this.dir, KEY_FILES.next), path.join(this.dir, KEY_FILES.signing));
    await fsyncDir(this.dir);
    const next = (await readFileIfExists(path.join(this.dir, KEY_FILES.nextVerifier)))!
      .toString("utf8")
      .trim();
    await this.finishCompletion(next);
    await this.reload();
  }

  private async finishCompletion(newVerifierKey: string): Promise<void> {
    await this.write(KEY_FILES.verifier, newVerifierKey);
    await this.remove(KEY_FILES.nextVerifier);
    await this.remove(KEY_FILES.rotation);
  }

  /** Writes one of the key files (a signer key with mode 0600). */
  async write(name: string, text: string, mode = 0o644): Promise<void> {
    await writeFileAtomic(path.join(this.dir, name), text.endsWith("\n") ? text : `${text}\n`, mode);
  }

  async remove(name: string): Promise<void> {
    await fsp.rm(path.join(this.dir, name), { force: true });
    await fsyncDir(this.dir);
  }
}

/** The log indexes of the KeyEvents of the log in dataDir (none when it never rotated a key). */
export async function readKeyEventIndexes(dataDir: string): Promise<number[]> {
  const text = (await readFileIfExists(path.join(dataDir, "keys", KEY_FILES.events)))?.toString("utf8") ?? "";
  return text
    .split("\n")
    .filter((l) => /^\d+$/.test(l.trim()))
    .map(Number);
}
