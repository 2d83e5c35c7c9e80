// Delivers alerts to one sink in the background: a bounded queue, retries with exponential
// backoff until an alert's retry window has passed, and nothing the caller ever waits on, so a
// slow or dead sink cannot slow ingest.
import type { AlertMetrics } from "./alert-metrics.js";
import type { AlertSink, RecordedAlert } from "./types.js";

export interface DeliveryOptions {
  /** Alerts held per sink; beyond this the oldest is dropped (and counted). */
  queueSize?: number;
  /** How long an alert keeps being retried after it was raised. */
  retryWindowMs?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export const DEFAULT_DELIVERY: Required<DeliveryOptions> = {
  queueSize: 10_000,
  retryWindowMs: 10 * 60_000,
  initialBackoffMs: 500,
  maxBackoffMs: 30_000,
};

interface Pending {
  alert: RecordedAlert;
  queuedAt: number;
}

export class SinkDispatcher {
  private readonly queue: Pending[] = [];
  private readonly opts: Required<DeliveryOptions>;
  private wake: (() => void) | undefined;
  private cancelSleep: (() => void) | undefined;
  private closed = false;
  private readonly done: Promise<void>;
  private idleWaiters: Array<() => void> = [];

  constructor(
    readonly sink: AlertSink,
    private readonly metrics: AlertMetrics,
    opts: DeliveryOptions = {},
    private readonly now: () => number = Date.now,
    private readonly onError: (err: Error) => void = () => {},
  ) {
    this.opts = { ...DEFAULT_DELIVERY, ...opts };
    this.metrics.queueLength.set({ sink: sink.name }, 0);
    this.done = this.run();
  }

  /** Queues an alert and returns at once. */
  enqueue(alert: RecordedAlert): void {
    if (this.closed) return;
    if (this.queue.length >= this.opts.queueSize) {
      this.queue.shift();
      this.metrics.dropped.inc({ sink: this.sink.name, reason: "queue_full" });
    }
    this.queue.push({ alert, queuedAt: this.now() });
    this.metrics.queueLength.set({ sink: this.sink.name }, this.queue.length);
    this.wake?.();
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Resolves once the queue is empty (every alert delivered, expired or dropped). */
  idle(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops retrying; alerts still queued are abandoned (they remain in the log). */
  async close(): Promise<void> {
    this.closed = true;
    this.cancelSleep?.();
    this.wake?.();
    await this.done;
    await this.sink.close?.();
  }

  private async run(): Promise<void> {
    let backoff = this.opts.initialBackoffMs;
    const label = { sink: this.sink.name };
    while (!this.closed) {
      const head = this.queue[0];
      if (!head) {
        for (const w of this.idleWaiters.splice(0)) w();
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      if (this.now() - head.queuedAt > this.opts.retryWindowMs) {
        this.queue.shift();
        this.metrics.dropped.inc({ sink: this.sink.name, reason: "expired" });
        this.metrics.queueLength.set(label, this.queue.length);
        continue;
      }
      try {
        await this.sink.send(head.alert);
        if (this.queue[0] === head) this.queue.shift();
        this.metrics.delivered.inc(label);
        this.metrics.sinkUp.set(label, 1);
        this.metrics.queueLength.set(label, this.queue.length);
        backoff = this.opts.initialBackoffMs;
      } catch (err) {
        this.metrics.failedAttempts.inc(label);
        this.metrics.sinkUp.set(label, 0);
        this.onError(err instanceof Error ? err : new Error(String(err)));
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.opts.maxBackoffMs);
      }
    }
    for (const w of this.idleWaiters.splice(0)) w();
  }

  // Only close() cuts a backoff short: new alerts arriving must not hammer a sink that is down.
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      // A pending retry must not keep the process alive on its own.
      timer.unref();
      this.cancelSleep = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => (this.cancelSleep = undefined));
  }
}
