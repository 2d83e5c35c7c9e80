// The page's side of proof checking: rows hand their entries here, a worker checks them against
// the verified checkpoint, and each row's mark follows its verdict. Nothing is "verified"
// unless the checkpoint was, and the entry's own bytes hashed up to its root.
import { useEffect, useState } from "preact/hooks";
import type { ProofItem, ProofJob, ProofReply } from "./proof-types.js";
import type { Trust } from "./state.js";

export type Verdict = { state: "pending" } | { state: "ok" } | { state: "failed"; reason: string };

export interface ProvenEntry extends ProofItem {
  /** The server found these bytes differ from what it indexed. */
  mismatch?: true;
}

export interface ProofStats {
  checked: number;
  failed: number;
  /** Time the worker spent hashing and walking proofs. */
  workerMs: number;
}

const PENDING: Verdict = { state: "pending" };

class ProofChecker {
  private worker: Worker | undefined;
  private readonly verdicts = new Map<string, Verdict>();
  private readonly failures = new Map<string, { index: number; reason: string }>();
  private readonly listeners = new Set<() => void>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private nextId = 1;
  readonly stats: ProofStats = { checked: 0, failed: 0, workerMs: 0 };

  private key(trust: Trust, index: number): string {
    return `${trust.checkpoint?.size ?? "?"}:${trust.rootHash ?? "?"}:${trust.state}:${index}`;
  }

  private start(): Worker {
    if (this.worker === undefined) {
      this.worker = new Worker(new URL("./proof-worker.ts", import.meta.url), { type: "module" });
      this.worker.onmessage = (e: MessageEvent<ProofReply>) => this.receive(e.data);
    }
    return this.worker;
  }

  private readonly jobs = new Map<number, { trust: Trust; mismatched: Set<number>; done: () => void }>();

  private receive(reply: ProofReply): void {
    const job = this.jobs.get(reply.id);
    if (job === undefined) return;
    this.jobs.delete(reply.id);
    this.stats.workerMs += reply.ms;
    for (const r of reply.results) {
      this.stats.checked++;
      let verdict: Verdict = { state: "ok" };
      if (!r.ok) {
        this.stats.failed++;
        const extra = job.mismatched.has(r.index)
          ? " (the server also finds them changed since it indexed them)"
          : "";
        verdict = { state: "failed", reason: `${r.reason ?? `entry ${r.index}: proof fails`}${extra}` };
      }
      this.set(job.trust, r.index, verdict);
    }
    this.notify();
    job.done();
  }

  private set(trust: Trust, index: number, v: Verdict): void {
    const key = this.key(trust, index);
    this.verdicts.set(key, v);
    if (v.state === "failed") this.failures.set(key, { index, reason: v.reason });
  }

  private scheduled = false;

  /** Listeners hear once per animation frame, however many verdicts arrived in it. */
  private notify(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.listeners.forEach((l) => l());
    });
  }

  /**
   * Queues entries for checking against `trust`'s checkpoint (entries already checked or queued
   * are skipped); resolves when this call's entries have their verdicts.
   */
  check(trust: Trust, entries: readonly ProvenEntry[]): Promise<void> {
    const fresh = entries.filter((e) => !this.verdicts.has(this.key(trust, e.index)));
    // Entries another call queued: this call is done when their job is.
    const queued = entries
      .map((e) => this.inFlight.get(this.key(trust, e.index)))
      .filter((p): p is Promise<void> => p !== undefined);
    if (fresh.length === 0 || trust.state === "checking") return Promise.all(queued).then(() => undefined);
    if (trust.state === "failed" || trust.checkpoint === undefined || trust.rootHash === undefined) {
      for (const e of fresh)
        this.set(trust, e.index, {
          state: "failed",
          reason: `entry ${e.index}: not verified — ${trust.error ?? "no verified checkpoint"}`,
        });
      this.notify();
      return Promise.resolve();
    }
    for (const e of fresh) this.verdicts.set(this.key(trust, e.index), PENDING);
    const id = this.nextId++;
    let done = (): void => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    this.jobs.set(id, {
      trust,
      mismatched: new Set(fresh.filter((e) => e.mismatch).map((e) => e.index)),
      done,
    });
    const job: ProofJob = {
      id,
      size: trust.checkpoint.size,
      rootHash: trust.rootHash,
      items: fresh.map(({ index, entry, proof, gone }) => ({
        index,
        entry,
        proof,
        ...(gone ? { gone } : {}),
      })),
    };
    const keys = fresh.map((e) => this.key(trust, e.index));
    for (const k of keys) this.inFlight.set(k, finished);
    void finished.then(() => keys.forEach((k) => this.inFlight.delete(k)));
    this.start().postMessage(job);
    this.notify();
    return Promise.all([finished, ...queued]).then(() => undefined);
  }

  verdict(trust: Trust, index: number): Verdict {
    return this.verdicts.get(this.key(trust, index)) ?? PENDING;
  }

  /** Failed entries among `indexes` under this trust, in the given order. */
  failed(trust: Trust, indexes: readonly number[]): { index: number; reason: string }[] {
    const out: { index: number; reason: string }[] = [];
    for (const i of indexes) {
      const f = this.failures.get(this.key(trust, i));
      if (f !== undefined) out.push(f);
    }
    return out;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }
}

export const proofs = new ProofChecker();
(window as unknown as { kubetrailProofs: ProofChecker }).kubetrailProofs = proofs;

/** Re-renders the caller whenever verdicts change. */
export function useVerdicts(): number {
  const [n, setN] = useState(0);
  useEffect(() => proofs.subscribe(() => setN((x) => x + 1)), []);
  return n;
}
