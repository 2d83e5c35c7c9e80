// Who must have cosigned a checkpoint before a verifier trusts it: witnesses (their
// cosignature/v1 verifier keys) and how many of them. One policy for every command that checks
// a checkpoint — verify, verify-bundle, export, the remote CLI — and for serve deciding what it
// publishes, so they all count the same way and name the same missing witnesses.
//
// A cosignature says the witness saw this checkpoint as consistent with every earlier one it
// saw: a log that shows another history to someone else cannot get it cosigned by the same
// witnesses. So a quorum of witnesses rules out a split view that fools fewer of them.
import {
  checkpointCosignatures,
  CosignatureVerifier,
  NoteVerifier,
  openCheckpoint,
  TlogError,
  type OpenedCheckpoint,
  type Verifier,
} from "../tlog/index.js";
import { CodedError } from "../errors.js";

export interface WitnessPolicy {
  witnesses: readonly CosignatureVerifier[];
  /** Cosignatures needed from `witnesses`. */
  minWitnesses: number;
}

export class WitnessPolicyError extends CodedError<"bad-policy" | "quorum" | "bad-checkpoint"> {}

/**
 * The policy of `--witness VKEY…` and `--min-witnesses K` (default: all of them). No witness
 * keys and no minimum is no policy (null). Throws WitnessPolicyError("bad-policy") naming the flag.
 */
export function witnessPolicyFromFlags(
  keys: readonly string[] | undefined,
  min: string | number | undefined,
): WitnessPolicy | null {
  const list = keys ?? [];
  if (list.length === 0) {
    if (min !== undefined && Number(min) > 0)
      throw new WitnessPolicyError(
        "bad-policy",
        "--min-witnesses needs the witnesses' keys (--witness VKEY)",
      );
    return null;
  }
  const witnesses = list.map((k, i) => {
    try {
      return CosignatureVerifier.fromKey(k.trim());
    } catch (err) {
      throw new WitnessPolicyError("bad-policy", `--witness ${i + 1}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  });
  const names = new Set(witnesses.map((w) => `${w.name}+${w.keyHash}`));
  if (names.size !== witnesses.length)
    throw new WitnessPolicyError("bad-policy", "--witness: the same key is given twice");
  const minWitnesses = min === undefined ? witnesses.length : Number(min);
  if (!Number.isInteger(minWitnesses) || minWitnesses < 1 || minWitnesses > witnesses.length)
    throw new WitnessPolicyError(
      "bad-policy",
      `--min-witnesses ${String(min)}: must be a whole number from 1 to the ${witnesses.length} witnesses given`,
    );
  return { witnesses, minWitnesses };
}

export interface QuorumReport {
  ok: boolean;
  /** Names of the policy's witnesses whose valid cosignature the checkpoint carries. */
  present: string[];
  /** Names of the policy's witnesses without one. */
  missing: string[];
  /** What is wrong, when not ok: names the missing witnesses. */
  message?: string;
}

const id = (v: Pick<Verifier, "name" | "keyHash">): string =>
  `${v.name}+${v.keyHash.toString(16).padStart(8, "0")}`;

/** Counts an opened checkpoint's verified cosignatures against the policy. */
export function checkQuorum(
  cp: Pick<OpenedCheckpoint, "size" | "cosignatures">,
  policy: WitnessPolicy,
): QuorumReport {
  const signed = new Set(cp.cosignatures.map(id));
  const present = policy.witnesses.filter((w) => signed.has(id(w))).map((w) => w.name);
  const missing = policy.witnesses.filter((w) => !signed.has(id(w))).map((w) => w.name);
  if (present.length >= policy.minWitnesses) return { ok: true, present, missing };
  return {
    ok: false,
    present,
    missing,
    message:
      `checkpoint of size ${cp.size} carries ${present.length} of the ${policy.minWitnesses} witness cosignatures needed` +
      ` (missing: ${missing.join(", ")})`,
  };
}

/**
 * Opens a checkpoint with the log's keys and the policy's witness keys and checks the quorum.
 * Throws WitnessPolicyError("quorum") naming the missing witnesses, ("bad-checkpoint") when the
 * note does not open (a bad signature by a log or witness key included).
 */
export function openWitnessedCheckpoint(
  note: string,
  logKeys: readonly NoteVerifier[],
  policy: WitnessPolicy | null,
): OpenedCheckpoint {
  let cp: OpenedCheckpoint;
  try {
    cp = openCheckpoint(note, [...logKeys, ...(policy?.witnesses ?? [])]);
  } catch (err) {
    throw new WitnessPolicyError("bad-checkpoint", (err as Error).message, {
      cause: err instanceof TlogError ? err : undefined,
    });
  }
  if (policy) {
    const q = checkQuorum(cp, policy);
    if (!q.ok) throw new WitnessPolicyError("quorum", q.message!);
  }
  return cp;
}

/**
 * The quorum of a checkpoint whose log signature a read source already checked against the
 * pinned key (export, the remote read commands). Throws WitnessPolicyError like
 * openWitnessedCheckpoint.
 */
export function requireWitnesses(note: string, policy: WitnessPolicy): QuorumReport {
  let opened;
  try {
    opened = checkpointCosignatures(note, policy.witnesses);
  } catch (err) {
    throw new WitnessPolicyError("bad-checkpoint", (err as Error).message, {
      cause: err instanceof TlogError ? err : undefined,
    });
  }
  const q = checkQuorum({ size: opened.checkpoint.size, cosignatures: opened.cosignatures }, policy);
  if (!q.ok) throw new WitnessPolicyError("quorum", q.message!);
  return q;
}
