// Receiving webhook bodies in this thread (what one core does) and the packing that carries a
// prepared batch across from a worker; the workers run in src/worker/workers.test.ts (from the
// sources) and test/receive-workers.test.ts (built).
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { apiserverEvents, eventList } from "../../test/fixtures/audit/events.js";
import { SECRET_EVENTS, SECRET_VALUES } from "../../test/fixtures/policy/secret-events.js";
import { MAX_ENTRY_BYTES } from "../store/types.js";
import { hashLeaf } from "../tlog/index.js";
import { IngestError } from "./errors.js";
import { createIngestTransform } from "../audit/ingest-transform.js";
import type { PreparedBatch } from "./prepare.js";
import { packBatch, receiveBody, startReceiver, unpackBatch } from "./receive.js";

const KEY = { redaction: { key: new Uint8Array(32).fill(9) } };

function body(items: unknown[]): Buffer {
  return Buffer.from(eventList(items as never));
}

describe("receiving a webhook body", () => {
  it("prepares every event: key, redacted bytes to store, their leaf hash", async () => {
    const plain = apiserverEvents(6, { seed: 3 });
    const items = [...plain, ...SECRET_EVENTS.map(({ kind: _k, apiVersion: _v, ...e }) => e)];
    const raw = body(items);
    const receiver = startReceiver({ transform: KEY, threads: 0 });
    const batch = await receiver.receive(raw);
    await receiver.close();

    expect(batch.received).toBe(items.length);
    expect(batch.dropped).toBe(0);
    expect(batch.events.map((e) => [e.auditID, e.stage])).toEqual(items.map((e) => [e.auditID, e.stage]));
    const text = raw.toString("utf8");
    for (const [i, e] of batch.events.entries()) {
      // SHA-256(0x00 ‖ bytes): the RFC 6962 leaf hash the log's tree will hold for the entry.
      expect(e.hash).toBe(createHash("sha256").update(Buffer.of(0)).update(e.bytes).digest("hex"));
      const stored = Buffer.from(e.bytes).toString("utf8");
      expect(JSON.parse(stored)).toMatchObject({ kind: "Event", apiVersion: "audit.k8s.io/v1" });
      // Events the transform left alone are stored as sent: their bytes appear in the body.
      if (i < plain.length) expect(text).toContain(stored.slice(stored.indexOf('"level"')));
    }
    const all = batch.events.map((e) => Buffer.from(e.bytes).toString("utf8")).join("\n");
    for (const secret of SECRET_VALUES) expect(all).not.toContain(secret);
  });

  it("refuses a body that is not an EventList, naming why", async () => {
    const receiver = startReceiver({ threads: 0 });
    await expect(receiver.receive(Buffer.from("{not json"))).rejects.toMatchObject({
      name: "IngestError",
      code: "not_json",
    });
    await expect(receiver.receive(Buffer.from('{"kind":"PodList","items":[]}'))).rejects.toMatchObject({
      code: "wrong_kind",
    });
    await receiver.close();
  });

  it("keeps the valid events of a batch and quarantines each invalid item, credentials masked", async () => {
    const receiver = startReceiver({ transform: KEY, threads: 0 });
    const [good, bad, other] = apiserverEvents(3, { seed: 4 });
    const { auditID: _dropped, ...noID } = bad!;
    const token = "ghp_" + "aZ3".repeat(12);
    const badTime = { ...other!, stageTimestamp: "2025-13-45T99:99:99Z", userAgent: `curl ${token}` };
    const batch = await receiver.receive(body([good, noID, badTime]));
    await receiver.close();
    expect(batch.received).toBe(3);
    expect(batch.events.map((e) => e.auditID)).toEqual([good!.auditID]);
    expect(batch.rejected).toEqual([
      {
        index: 1,
        code: "invalid_event",
        field: "auditID",
        message: "items[1]: field auditID is missing or not a non-empty string",
      },
      {
        index: 2,
        code: "invalid_event",
        field: "stageTimestamp",
        message:
          'items[2]: field stageTimestamp "2025-13-45T99:99:99Z" is not an RFC 3339 timestamp: month 13 is out of range',
      },
    ]);
    const entries = batch.quarantine!.map((q) => {
      expect(Buffer.from(q.leaf)).toEqual(Buffer.from(hashLeaf(q.bytes)));
      return Buffer.from(q.bytes).toString("utf8");
    });
    expect(entries).toHaveLength(2);
    expect(entries.join("\n")).not.toContain(token);
    const second = JSON.parse(entries[1]!) as Record<string, unknown>;
    expect(second).toMatchObject({
      kind: "QuarantinedItem",
      apiVersion: "kubetrail.dev/v1",
      source: "webhook",
      reason: { code: "invalid_event", field: "stageTimestamp" },
      indexes: [2],
      count: 1,
      auditID: other!.auditID,
      itemBytes: Buffer.byteLength(JSON.stringify(badTime)),
      redacted: ["item.userAgent"],
      redactedKinds: ["github-token"],
    });
    expect((second.item as { userAgent: string }).userAgent).toMatch(/^curl kubetrail-hmac-sha256:/);
  });

  it("quarantines an event larger than the log's largest entry instead of failing the batch", async () => {
    const receiver = startReceiver({ transform: KEY, threads: 0 });
    const [good, big] = apiserverEvents(2, { seed: 12 });
    const huge = { ...big!, requestObject: { data: "x".repeat(MAX_ENTRY_BYTES) } };
    const batch = await receiver.receive(body([good, huge]));
    await receiver.close();
    expect(batch.events.map((e) => e.auditID)).toEqual([good!.auditID]);
    expect(batch.rejected?.map((r) => [r.index, r.code])).toEqual([[1, "too_large"]]);
    expect(batch.rejected?.[0]?.message).toMatch(
      /^items\[1\]: \d+ bytes to store, over the log's largest entry/,
    );
    const record = JSON.parse(Buffer.from(batch.quarantine![0]!.bytes).toString("utf8")) as Record<
      string,
      unknown
    >;
    expect(record.item).toBeUndefined(); // over 256 KiB: its tag and size only
    expect(record.itemBytes).toBeGreaterThan(MAX_ENTRY_BYTES);
  });
});

describe("a prepared batch packed for the trip from a worker", () => {
  /** Packs `prepared`, sends it as a worker would, and checks what arrives against it. */
  function roundTrip(prepared: PreparedBatch): ArrayBufferLike {
    const sent = prepared.events.map((e) => Buffer.from(e.bytes));
    const packed = packBatch(prepared);
    const buffer = packed.bytes.buffer;
    const back = unpackBatch(
      structuredClone(packed, {
        transfer: [packed.bytes.buffer as ArrayBuffer, packed.leaves.buffer as ArrayBuffer],
      }),
    );
    expect(packed.bytes.byteLength).toBe(0); // transferred, not copied
    expect(back.received).toBe(prepared.received);
    expect(back.events.map(({ auditID, stage, hash }) => ({ auditID, stage, hash }))).toEqual(
      prepared.events.map(({ auditID, stage, hash }) => ({ auditID, stage, hash })),
    );
    back.events.forEach((e, i) => {
      expect(Buffer.from(e.bytes).equals(sent[i]!)).toBe(true);
      // The hash also comes as the 32 bytes the log takes, equal to hashing the entry itself.
      expect(Buffer.from(e.leaf!).equals(hashLeaf(e.bytes))).toBe(true);
      expect(e.bytes.buffer).toBe(back.events[0]!.bytes.buffer);
      expect(e.event).toBeUndefined();
    });
    return buffer;
  }

  it("comes back with the same keys, hashes and bytes, all in one buffer: the entries' own", () => {
    const prepared = receiveBody(body(apiserverEvents(40, { seed: 5, bigEvery: 7 })));
    const own = prepared.events[0]!.bytes.buffer;
    // Stored as sent, the entries already lie end to end in one buffer, handed over as it is.
    expect(roundTrip(prepared)).toBe(own);
  });

  it("copies the bytes into one buffer when some were re-encoded", () => {
    const items = [
      ...apiserverEvents(3, { seed: 6 }),
      ...SECRET_EVENTS.map(({ kind: _k, apiVersion: _v, ...e }) => e),
    ];
    const prepared = receiveBody(body(items), { transform: createIngestTransform(KEY) });
    const buffers = new Set(prepared.events.map((e) => e.bytes.buffer));
    expect(buffers.size).toBeGreaterThan(1);
    expect(buffers.has(roundTrip(prepared))).toBe(false);
  });

  it("turns a worker's refusal back into the same IngestError, and anything else into an Error", () => {
    expect(() =>
      unpackBatch({ ok: false, code: "wrong_kind", message: 'kind "Pod" is not EventList' }),
    ).toThrow(new IngestError("wrong_kind", 'kind "Pod" is not EventList'));
    expect(() => unpackBatch({ ok: false, message: "out of memory" })).toThrow(
      "receive worker: out of memory",
    );
  });
});
