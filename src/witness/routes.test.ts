import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { sendReply } from "./routes.js";

describe("sendReply", () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it("sends status, type and a UTF-8 body with its byte length, then tells it was sent", async () => {
    // A 404's body quotes the origin it was given, which may be any UTF-8 text.
    const body = 'unknown log origin "lög.example/日本"\n';
    const sent: string[] = [];
    server = http.createServer((_req, res) =>
      sendReply(res, { status: 404, contentType: "text/plain; charset=utf-8", body }, () =>
        sent.push("sent"),
      ),
    );
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/add-checkpoint`, { method: "POST", body: "x" });
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(Number(res.headers.get("content-length"))).toBe(Buffer.byteLength(body));
    expect(bytes.length).toBeGreaterThan(body.length);
    expect(bytes.toString("utf8")).toBe(body);
    expect(sent).toEqual(["sent"]);
  });
});
