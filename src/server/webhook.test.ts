import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiserverEvents, eventList } from "../../test/fixtures/audit/events.js";
import { request } from "../../test/fixtures/audit/request.js";
import { IngestError } from "../ingest/errors.js";
import { openIngest, type OpenIngest } from "../ingest/open-ingest.js";
import { storageIn } from "../../test/fixtures/memory-log.js";
import { IngestBusyError } from "../ingest/pipeline.js";
import { LogError } from "../store/types.js";
import { createCa, issueCert } from "./certs.js";
import { createMetrics } from "./metrics.js";
import { ingestFailureStatus, webhookRoutes } from "./routes/webhook.js";
import { startServer, type RunningServer } from "./server.js";
import { tempDir } from "../../test/fixtures/audit/temp-dir.js";

const TOKEN = "webhook-test-token-0123456789";

describe("failure statuses the apiserver retries on", () => {
  it("maps bad input to 4xx and overload to 429/503 with Retry-After", () => {
    expect(ingestFailureStatus(new IngestError("invalid_event", "items[3]: x")).status).toBe(400);
    expect(ingestFailureStatus(new IngestError("too_large", "x")).status).toBe(413);
    const busy = ingestFailureStatus(new IngestBusyError("behind"));
    expect([busy.status, busy.headers["Retry-After"]]).toEqual([429, "1"]);
    expect(ingestFailureStatus(new LogError("full", "ENOSPC")).status).toBe(503);
    expect(ingestFailureStatus(new LogError("closed", "closed")).status).toBe(503);
    expect(ingestFailureStatus(new LogError("busy", "backlog")).status).toBe(429);
    expect(ingestFailureStatus(new LogError("io", "EIO")).status).toBe(503);
  });
});

describe("webhook route over HTTPS with the real log", () => {
  let ingest: OpenIngest;
  let server: RunningServer;
  let ca: string;
  let closed = false;

  beforeAll(async () => {
    const dir = tempDir("kt-webhook-");
    ingest = await openIngest(storageIn(dir));
    const caPem = await createCa("test CA");
    const serving = await issueCert(caPem, {
      commonName: "kubetrail",
      hosts: ["localhost"],
      usage: "server",
    });
    ca = caPem.certPem;
    const metrics = createMetrics();
    server = await startServer(
      {
        routes: webhookRoutes({
          receive: (body) => ingest.receiver.receive(body),
          ingest: (batch) => ingest.pipeline.ingestPrepared(batch),
          metrics,
          limits: { maxBytes: 1 << 20, maxDecodedBytes: 4 << 20 },
          accepting: () => true,
        }),
        auth: { ingestTokens: [TOKEN], readTokens: [] },
        logger: pino({ level: "silent" }),
        metrics,
        tls: { cert: serving.certPem, key: serving.keyPem },
      },
      { host: "127.0.0.1", port: 0 },
    );
  });
  afterAll(async () => {
    await server.close(100);
    if (!closed) await ingest.close();
  });

  const post = (body: string) =>
    request(server.port, {
      method: "POST",
      path: "/v1/audit/webhook",
      body,
      ca,
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${TOKEN}` },
    });

  it("accepts a v1beta1 EventList and stores it as v1", async () => {
    const items = apiserverEvents(3, { seed: 77 }).map((e) => ({
      ...e,
      metadata: { creationTimestamp: null },
      timestamp: e.stageTimestamp,
    }));
    const r = await post(eventList(items, "audit.k8s.io/v1beta1"));
    expect(r.status).toBe(200);
    const stored: string[] = [];
    for await (const e of ingest.log.readEntries(0, ingest.log.size()))
      stored.push(Buffer.from(e.data!).toString());
    expect(stored).toHaveLength(3);
    for (const s of stored) {
      expect(s.startsWith('{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":')).toBe(true);
      expect(s).not.toContain('"timestamp"');
      expect(s).not.toContain('"metadata":{"creationTimestamp"');
    }
  });

  it("answers 503 with Retry-After once the log is closed, acknowledging nothing", async () => {
    await ingest.close();
    closed = true;
    const r = await post(eventList(apiserverEvents(2, { seed: 78 })));
    expect(r.status).toBe(503);
    expect(r.headers["retry-after"]).toBe("1");
  });
});
