// Test-only fault injection: a witness that SIGKILLs itself at a chosen step of add-checkpoint,
// so a test can show that a crash between any two steps loses nothing cosigned and never leads
// to two different cosigned checkpoints of one size. SIGKILL from the process itself is as
// abrupt as from outside (no handler, no flush), but lands exactly at the step.
//
// Off unless both variables are set; KUBETRAIL_CRASH_AT alone makes the witness refuse to start
// (checkCrashPoints), so it cannot be left on by mistake:
//   KUBETRAIL_TEST_CRASH_POINTS=1
//   KUBETRAIL_CRASH_AT=<step>[@<n>]   die the n-th time (default 1st) the step is reached
//   KUBETRAIL_TEST_COMPACT_BYTES=<n>  fold the journal into the snapshot past n bytes (to reach
//                                     the snapshot steps quickly)
import { WitnessError } from "./errors.js";

/** The steps of one add-checkpoint, in order; the snapshot steps run when the journal is folded. */
export const CRASH_STEPS = [
  "request-read", // the body is in memory
  "signature-verified", // the log's signature checked, before the log's turn
  "cosignature-signed", // proof checked and cosignature made, nothing written
  "journal-written", // the record is in the journal file, not yet synced
  "journal-synced", // the record is durable, no answer sent
  "reply-sent", // the answer is with the kernel
  "snapshot-tmp-written", // compaction: the new snapshot in its temporary file
  "snapshot-tmp-synced",
  "snapshot-renamed", // the new snapshot in place, its directory not yet synced
  "snapshot-dir-synced",
  "journal-rewound", // the journal to be written again from its start, the snapshot holding it all
] as const;
export type CrashStep = (typeof CRASH_STEPS)[number];

const ENABLE = "KUBETRAIL_TEST_CRASH_POINTS";
const AT = "KUBETRAIL_CRASH_AT";
const COMPACT = "KUBETRAIL_TEST_COMPACT_BYTES";

interface Armed {
  step: CrashStep;
  remaining: number;
}

function parse(env: NodeJS.ProcessEnv): { armed: Armed | null; compactBytes?: number } {
  const at = env[AT];
  const compact = env[COMPACT];
  if (env[ENABLE] !== "1") {
    if (at !== undefined || compact !== undefined)
      throw new WitnessError(
        "config",
        `${at !== undefined ? AT : COMPACT} is a test-only fault injection; it needs ${ENABLE}=1`,
      );
    return { armed: null };
  }
  let armed: Armed | null = null;
  if (at !== undefined) {
    const m = /^([a-z-]+)(?:@([1-9][0-9]*))?$/.exec(at);
    const step = CRASH_STEPS.find((s) => s === m?.[1]);
    if (!m || !step)
      throw new WitnessError(
        "config",
        `${AT}=${at}: expected <step>[@<n>], a step of ${CRASH_STEPS.join(", ")}`,
      );
    armed = { step, remaining: Number(m[2] ?? 1) };
  }
  let compactBytes: number | undefined;
  if (compact !== undefined) {
    compactBytes = Number(compact);
    if (!Number.isSafeInteger(compactBytes) || compactBytes < 1)
      throw new WitnessError("config", `${COMPACT}=${compact}: expected a positive number of bytes`);
  }
  return { armed, compactBytes };
}

let state: { armed: Armed | null; compactBytes?: number } = { armed: null };

/** Reads the variables; throws WitnessError("config") when they are set without the opt-in or wrong. */
export function checkCrashPoints(env: NodeJS.ProcessEnv = process.env): { compactBytes?: number } {
  state = parse(env);
  return { compactBytes: state.compactBytes };
}

/** Reached a step: the process dies here when the test armed it (a no-op otherwise). */
export function crashPoint(step: CrashStep): void {
  const armed = state.armed;
  if (armed === null || armed.step !== step) return;
  if (--armed.remaining > 0) return;
  process.kill(process.pid, "SIGKILL");
}
