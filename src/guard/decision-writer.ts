// Appends AdmissionDecision entries for concurrent reviews together. Each review still waits
// until its own entry is durable before it is answered; what is shared is the commit (one
// write-ahead record, one fdatasync, one hand-over to the bundle files) — which on this kind
// of machine costs far more CPU than the entry it carries.
//
// At most one append of decisions is in flight. Reviews decided while it runs wait for it and
// then go together in the next one, and under load commits start at least `spacingMs` apart so
// that the next group has time to fill; when reviews come slower than that, an entry is
// appended at once (in the same turn of the event loop as any decided beside it). Each entry's
// leaf hash is computed here, cheap for an entry this small, which spares the log a round trip
// to its hashing worker per commit.
import { hashLeaf } from "../tlog/index.js";
import type { LogWriter } from "../store/types.js";

/**
 * Default minimum time between the starts of two commits while reviews keep coming: the most
 * a review waits for its group to fill, kept well under the webhook's latency budget.
 */
const DEFAULT_DECISION_SPACING_MS = 1;
/** Entries per append at most, so that one burst does not become one long write. */
const MAX_BATCH = 512;

interface Waiting {
  entry: Uint8Array;
  leaf: Uint8Array;
  resolve: (index: number) => void;
  reject: (err: unknown) => void;
}

export class DecisionWriter {
  private queue: Waiting[] = [];
  private inFlight = false;
  private scheduled = false;
  private lastStart = -Infinity;
  private readonly spacingMs: number;
  private readonly now: () => number;

  constructor(
    private readonly writer: LogWriter,
    opts: { spacingMs?: number; now?: () => number } = {},
  ) {
    this.spacingMs = opts.spacingMs ?? DEFAULT_DECISION_SPACING_MS;
    this.now = opts.now ?? (() => performance.now());
  }

  /** Resolves with the entry's log index once it is durable; rejects with the log's error. */
  append(entry: Uint8Array): Promise<number> {
    const leaf = hashLeaf(entry);
    return new Promise((resolve, reject) => {
      this.queue.push({ entry, leaf, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.inFlight || this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    const wait = this.lastStart + this.spacingMs - this.now();
    // A full group goes now; otherwise at least once around the event loop, so that reviews
    // decided in the same turn share the commit.
    if (wait <= 0 || this.queue.length >= MAX_BATCH) setImmediate(() => this.flush());
    else setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.scheduled = false;
    const group = this.queue.splice(0, MAX_BATCH);
    if (group.length === 0) return;
    this.inFlight = true;
    this.lastStart = this.now();
    this.writer
      .append(
        group.map((w) => w.entry),
        group.map((w) => w.leaf),
      )
      .then(
        ({ firstIndex }) => group.forEach((w, i) => w.resolve(firstIndex + i)),
        (err: unknown) => group.forEach((w) => w.reject(err)),
      )
      .finally(() => {
        this.inFlight = false;
        this.schedule();
      });
  }
}
