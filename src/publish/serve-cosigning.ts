// `serve --cosigners FILE`: the witnesses (and mirrors) of the log wired into serve — the
// cosigning step the log calls when it publishes a checkpoint, the published checkpoint for
// /log/checkpoint, and their metrics.
import path from "node:path";
import type { Logger } from "pino";
import { Counter, Gauge, Summary } from "prom-client";
import type { ServeExtension } from "../server/run-serve.js";
import type { Cosign } from "../store/log-core.js";
import { entrySpans, readEntriesFrom, sourceTileReader } from "../store/log-reader.js";
import type { Storage } from "../store/storage.js";
import { newVerifier, proveConsistency, proveSubtreeConsistency, tileHashReader } from "../tlog/index.js";
import { HttpError } from "../server/route.js";
import type { AuditLog } from "../store/types.js";
import { Keyring } from "../keys/keyring.js";
import { loadCosignersConfig, type CosignersConfig } from "./cosigners-config.js";
import { Cosigning, PUBLISHED_CHECKPOINT_FILE } from "./cosigning.js";
import { HttpClient } from "./http-client.js";
import type { CosignOutcome } from "./cosigner-client.js";
import type { RetentionHold } from "../retention/run.js";
import { MirrorHolds, MIRRORS_HELD_FILE } from "./mirror-holds.js";

export interface ServeCosigning {
  config: CosignersConfig;
  /** For the log: its cosigning step. */
  cosign: Cosign;
  /** For /log/checkpoint. */
  published(): string | null;
  /** Starts following the open log; stops on shutdown. */
  extension: ServeExtension;
  /**
   * Strict mode: resolves once a mirror has cosigned a checkpoint covering everything durable
   * now; an HttpError 503 after strictTimeout (the apiserver sends the batch again).
   */
  ackGate?: (log: AuditLog) => Promise<void>;
  /**
   * With mirrors (and a retentionHold): where serve's retention must stop, given how far the
   * log is pruned already, so a mirror still gets every entry it lacks (mirror-holds.ts).
   */
  retentionHold?: (prunedBefore: number) => RetentionHold | null;
}

export async function setUpCosigning(
  storage: Storage,
  file: string,
  logger: Logger,
): Promise<ServeCosigning> {
  const config = await loadCosignersConfig(file);
  // The log's own stored files: the tiles of a tree being published are stored before it is signed.
  const source = storage.source();
  const tiles = sourceTileReader((t) => source.readTile(t));
  const hashes = (size: number) => tileHashReader(size, tiles);
  const http = new HttpClient({
    ...(config.ca ? { ca: config.ca } : {}),
    insecure: config.insecureSkipTlsVerify,
  });
  const holds =
    config.mirrors.length > 0 && config.retentionHoldMs > 0
      ? await MirrorHolds.load(
          path.join(storage.stateDir, MIRRORS_HELD_FILE),
          config.mirrors.map((m) => m.name),
          config.retentionHoldMs,
          Date.now(),
          (message, fields) => logger.warn(fields, message),
        )
      : undefined;
  const outcomes: { witness: string; outcome: CosignOutcome }[] = [];
  let record: (witness: string, outcome: CosignOutcome) => void = (witness, outcome) =>
    outcomes.push({ witness, outcome });
  const cosigning = new Cosigning({
    config,
    prove: (from, to) => proveConsistency(from, to, hashes(to)),
    mirrorSource: {
      proveSubtree: (start, end, n) => proveSubtreeConsistency(start, end, n, hashes(n)),
      entries: async (start, end) => {
        const out: Uint8Array[] = [];
        for await (const e of readEntriesFrom(entrySpans(source), start, end)) {
          // A mirror needs every entry: one pruned or erased before it got it cannot be sent any more.
          if (e.data === undefined)
            throw new Error(
              `entry ${e.index} was ${e.gone.state} before this mirror got it, and an upload carries entries: this mirror cannot follow the log past it; start a new copy that pulls the log (kubetrail mirror --from), which takes such entries' leaf hashes from the tiles`,
            );
          out.push(e.data);
        }
        return out;
      },
    },
    http,
    publishedFile: path.join(storage.stateDir, PUBLISHED_CHECKPOINT_FILE),
    onEvent: (e) => logger[e.level](e.fields, e.message),
    onOutcome: (cosigner, outcome, size) => {
      if (outcome.kind === "cosigned") holds?.cosigned(cosigner, size, Date.now());
      record(cosigner, outcome);
    },
  });
  logger.info(
    {
      witnesses: config.witnesses.map((w) => `${w.name}${w.optional ? " (optional)" : ""}`),
      quorum: config.quorum,
      failMode: config.failMode,
      mirrors: config.mirrors.map((m) => m.name),
      strict: config.strict,
    },
    "checkpoints are cosigned by witnesses and mirrors",
  );
  // Checkpoints published before the metrics registry exists (while the log opens) go uncounted.
  let observeCosign: (seconds: number) => void = () => undefined;
  const ackGate = async (log: AuditLog): Promise<void> => {
    const size = log.size();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new HttpError(
              503,
              `no mirror cosigned a checkpoint covering these events within ${config.strictTimeoutMs} ms`,
              {
                "Retry-After": "1",
              },
            ),
          ),
        config.strictTimeoutMs,
      );
    });
    try {
      await Promise.race([log.waitIntegrated(size).then(() => cosigning.untilMirrored(size)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    config,
    cosign: async (signed, cp) => {
      const started = performance.now();
      try {
        return await cosigning.cosign(signed, cp);
      } finally {
        observeCosign((performance.now() - started) / 1000);
      }
    },
    published: () => cosigning.published(),
    ...(config.strict ? { ackGate } : {}),
    ...(holds ? { retentionHold: (prunedBefore: number) => holds.hold(prunedBefore) } : {}),
    extension: {
      start: async (ingest, ctx) => {
        const registers = [ctx.registry];
        const answers = new Counter({
          name: "kubetrail_cosigner_answers_total",
          help: "Answers of witnesses and mirrors (add-checkpoint, add-entries), by cosigner and outcome",
          labelNames: ["cosigner", "outcome"],
          registers,
        });
        record = (cosigner, outcome) => answers.inc({ cosigner, outcome: outcome.kind });
        for (const o of outcomes.splice(0)) record(o.witness, o.outcome);
        const cosignTime = new Summary({
          name: "kubetrail_checkpoint_cosign_seconds",
          help: "How long publishing each checkpoint waited for witness and mirror cosignatures (last 10 minutes)",
          percentiles: [0.5, 0.9, 0.99],
          maxAgeSeconds: 600,
          ageBuckets: 5,
          registers,
        });
        observeCosign = (seconds) => cosignTime.observe(seconds);
        new Gauge({
          name: "kubetrail_published_checkpoint_size",
          help: "Tree size of the checkpoint served at /log/checkpoint (with its witness cosignatures)",
          registers,
          collect() {
            this.set(cosigning.publishedSize());
          },
        });
        new Gauge({
          name: "kubetrail_mirror_cosigned_size",
          help: "Largest tree size each mirror has cosigned (retention keeps what a mirror lacks: retentionHold)",
          labelNames: ["mirror"],
          registers,
          collect() {
            for (const m of cosigning.mirrors) {
              const name = m.endpoint.name;
              this.set({ mirror: name }, Math.max(m.cosignedSize, holds?.sizeOf(name) ?? 0));
            }
          },
        });
        new Gauge({
          name: "kubetrail_published_checkpoint_witnesses",
          help: "Non-optional witnesses whose cosignature the published checkpoint carries",
          registers,
          collect() {
            this.set(cosigning.publishedWitnesses());
          },
        });
        // Every key of the log, retired ones too: a kept checkpoint may predate a key rotation.
        const keyring = Keyring.opened(path.join(storage.stateDir, "keys"));
        await cosigning.start(
          keyring?.verifiers ?? [newVerifier(ingest.log.verifierKey)],
          ingest.log.latestCheckpoint(),
        );
        const unsubscribe = ingest.log.onIntegrated((cp) => cosigning.written(cp));
        return async () => {
          unsubscribe();
          await cosigning.close();
          await holds?.close();
          http.close();
        };
      },
    },
  };
}
