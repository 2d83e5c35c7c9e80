import { statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { apiserverEvents, logFileText } from "../../test/fixtures/audit/events.js";
import { openIngest, type OpenIngest } from "./open-ingest.js";
import { storageIn } from "../../test/fixtures/memory-log.js";
import { orderAuditFiles, rotationTime, timeKey } from "./file-order.js";
import { importFiles } from "./import-files.js";
import { tempDir } from "../../test/fixtures/audit/temp-dir.js";

let ingest: OpenIngest | undefined;
afterEach(async () => {
  await ingest?.close();
  ingest = undefined;
});

describe("file order", () => {
  it("reads lumberjack rotation times and microsecond sort keys", () => {
    expect(rotationTime("/var/log/audit-2026-11-21T05-58-25.096.log")).toBe("2026-11-21T05:58:25.096");
    expect(rotationTime("/var/log/audit-2026-11-21T05-58-25.096.log.gz")).toBe("2026-11-21T05:58:25.096");
    expect(rotationTime("/var/log/audit.log")).toBeUndefined();
    expect(timeKey("2026-11-21T05:58:25.096042Z")).toBe("2026-11-21T05:58:25.096042000");
    expect(timeKey("2026-11-21T07:58:25.1+02:00")).toBe("2026-11-21T05:58:25.100000000");
    expect(timeKey("2026-11-21T05:58:25.096042Z")! > timeKey("2026-11-21T05:58:25.096041Z")!).toBe(true);
  });

  it("orders rotated, compressed and live files by their events", async () => {
    const dir = tempDir("kt-order-");
    const events = apiserverEvents(30, { seed: 5 });
    const live = path.join(dir, "audit.log");
    const older = path.join(dir, "audit-2026-11-21T06-00-00.000.log.gz");
    const oldest = path.join(dir, "audit-2026-11-21T05-59-00.000.log");
    writeFileSync(oldest, logFileText(events.slice(0, 10)));
    writeFileSync(older, gzipSync(logFileText(events.slice(10, 20))));
    writeFileSync(live, logFileText(events.slice(20)));
    expect(await orderAuditFiles([live, older, oldest])).toEqual([oldest, older, live]);
  });
});

describe("import", () => {
  it("imports plain and gzip files, reports rejected lines by number, and adds nothing on re-import", async () => {
    const dir = tempDir("kt-import-");
    const events = apiserverEvents(120, { seed: 9, bigEvery: 25 });
    const a = path.join(dir, "audit-2026-11-21T05-59-00.000.log");
    const b = path.join(dir, "audit.log.gz");
    const lines = logFileText(events.slice(0, 60)).split("\n");
    lines.splice(3, 0, "{not json", '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata"}');
    // A line with bytes that are not UTF-8, and Windows line ends, as a copied file may have.
    const broken = Buffer.from(lines[10]!);
    broken[broken.indexOf('"verb":"') + 8] = 0xff;
    writeFileSync(
      a,
      Buffer.concat([
        Buffer.from(lines.slice(0, 10).join("\r\n") + "\r\n"),
        broken,
        Buffer.from("\n" + lines.slice(11).join("\n")),
      ]),
    );
    writeFileSync(b, gzipSync(logFileText(events.slice(60))));
    ingest = await openIngest(storageIn(path.join(dir, "data")));
    let bytes = 0;
    const first = await importFiles([a, b], ingest.pipeline, { batchSize: 50, onBytes: (n) => (bytes += n) });
    expect(bytes).toBe(statSync(a).size + statSync(b).size);
    expect(first).toMatchObject({ files: 2, read: 122, stored: 119, duplicates: 0, rejectedCount: 3 });
    expect(first.rejected.map((r) => [r.file, r.line, r.reason])).toEqual([
      [a, 4, expect.stringMatching(/^not JSON/)],
      [a, 5, "field auditID is missing or not a non-empty string"],
      [a, 11, "line is not valid UTF-8"],
    ]);
    const again = await importFiles([b, a], ingest.pipeline);
    expect(again).toMatchObject({ stored: 0, duplicates: 119 });
    expect(ingest.log.size()).toBe(119);
  });
});
