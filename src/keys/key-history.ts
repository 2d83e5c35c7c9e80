// Which of a log's keys may sign a checkpoint of a given size, from the KeyEvents in the log
// (key-event.ts) and the keys a verifier pinned.
//
// Trust spreads from the pinned keys along endorsements, both ways: a key added with the
// endorsement of a trusted key is trusted for the checkpoints that cover its KeyEvent; the
// endorser of a trusted key's addition is its predecessor, trusted from the start; a retirement
// endorsed by a trusted key ends the retired key's trust for every checkpoint that covers it.
// A checkpoint must carry a valid signature by a key trusted at its size, and none by a key
// retired before it: a retired key that signs again has been stolen or misused.
import {
  CosignatureVerifier,
  keyId,
  openCheckpoint,
  TlogError,
  type NoteVerifier,
  type OpenedCheckpoint,
  type Verifier,
} from "../tlog/index.js";
import { readKeyEvent, type KeyAction } from "./key-event.js";
import { KeysError, type KeysErrorCode } from "./errors.js";

export interface KeyRecord {
  /** The log index of the KeyEvent entry. */
  index: number;
  action: KeyAction;
  key: NoteVerifier;
  endorser: NoteVerifier;
}

export interface TrustedKey {
  verifier: NoteVerifier;
  /** Smallest checkpoint size it may sign (0: from the start). */
  from: number;
  /** Largest checkpoint size it may sign, once retired. */
  until: number | null;
  /** "pinned", or the index of the KeyEvent that made it trusted. */
  via: "pinned" | number;
}

export type KeyProblemCode = Exclude<KeysErrorCode, "state" | "io">;

/** A checkpoint the key history does not accept. */
export class KeyProblem extends KeysError {
  declare readonly code: KeyProblemCode;

  constructor(code: KeyProblemCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

const id = (v: Pick<Verifier, "name" | "keyHash">): string => keyId(v.name, v.keyHash);

export class KeyHistory {
  readonly records: KeyRecord[] = [];
  /** KeyEvents that are malformed or whose endorsement does not verify. */
  readonly problems: { index: number; message: string }[] = [];

  /** Notes the entry at `index` if it is a KeyEvent. */
  observe(index: number, entry: Uint8Array): void {
    const read = readKeyEvent(entry);
    if (read === null) return;
    if (typeof read === "string") this.problems.push({ index, message: read });
    else this.records.push({ index, action: read.event.action, key: read.key, endorser: read.endorser });
  }

  /** The keys trusted from `pinned` by the records seen so far. */
  trust(pinned: readonly NoteVerifier[]): KeyTrust {
    const keys = new Map<string, TrustedKey>();
    for (const v of pinned) keys.set(id(v), { verifier: v, from: 0, until: null, via: "pinned" });
    for (let changed = true; changed;) {
      changed = false;
      for (const r of this.records) {
        const key = keys.get(id(r.key));
        const endorser = keys.get(id(r.endorser));
        if (r.action === "added") {
          if (endorser && !key) {
            keys.set(id(r.key), { verifier: r.key, from: r.index + 1, until: null, via: r.index });
            changed = true;
          } else if (endorser && key && key.via === "pinned") {
            // A pinned key the log added later signs only from its (first) KeyEvent on.
            key.from = r.index + 1;
            key.via = r.index;
            changed = true;
          } else if (key && !endorser) {
            keys.set(id(r.endorser), { verifier: r.endorser, from: 0, until: null, via: r.index });
            changed = true;
          }
        } else if (endorser && key && (key.until === null || key.until > r.index)) {
          key.until = r.index;
          changed = true;
        }
      }
    }
    return new KeyTrust([...keys.values()]);
  }
}

export class KeyTrust {
  constructor(readonly keys: readonly TrustedKey[]) {}

  /** The keys that may sign a checkpoint of `size`. */
  validAt(size: number): NoteVerifier[] {
    return this.keys
      .filter((k) => k.from <= size && (k.until === null || size <= k.until))
      .map((k) => k.verifier);
  }

  /**
   * Opens a checkpoint note with every trusted key (and `cosigners`), then requires a valid
   * signature by a key trusted at its size and none by a key outside its time. Throws KeyProblem.
   */
  open(
    note: string | Uint8Array,
    cosigners: readonly Verifier[] = [],
    what = "checkpoint",
  ): OpenedCheckpoint {
    let cp: OpenedCheckpoint;
    try {
      cp = openCheckpoint(note, [...this.keys.map((k) => k.verifier), ...cosigners]);
    } catch (err) {
      const code = err instanceof TlogError ? err.code : "";
      if (code === "unknown-key" || code === "no-signature" || code === "origin-mismatch")
        throw new KeyProblem(
          "unknown-key",
          `${what} signed by an unknown key, not by a key of the log (known: ${this.keys.map((k) => id(k.verifier)).join(", ")})`,
        );
      if (code === "bad-signature")
        throw new KeyProblem("bad-signature", `${what}: ${(err as Error).message}`);
      throw new KeyProblem("bad-checkpoint", `${what}: ${(err as Error).message}`);
    }
    const byId = new Map(this.keys.map((k) => [id(k.verifier), k] as const));
    let valid = 0;
    for (const s of cp.signatures) {
      if (s.verifier instanceof CosignatureVerifier) continue;
      const k = byId.get(id(s));
      if (!k) continue;
      if (k.until !== null && cp.size > k.until)
        throw new KeyProblem(
          "retired-key",
          `${what} of size ${cp.size} is signed by ${id(k.verifier)}, retired at entry ${k.until}: a retired key signed again`,
        );
      if (cp.size < k.from)
        throw new KeyProblem(
          "not-yet-valid-key",
          `${what} of size ${cp.size} is signed by ${id(k.verifier)}, which signs only checkpoints covering its KeyEvent at entry ${k.from - 1}`,
        );
      valid++;
    }
    if (valid === 0)
      throw new KeyProblem("unknown-key", `${what} is not signed by a key valid at size ${cp.size}`);
    return cp;
  }
}
