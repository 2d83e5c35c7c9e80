// The bare HTTPS round trip as a baseline: node:https alone, in its own process, with a given
// certificate, reading each request's body and answering 200 with a short text — no routing,
// no checks, no disk. What a server on this machine can answer at most, whatever it does.
//
//   node build/bench/lib/https-sink.js TLS_DIR PORT   (TLS_DIR holds tls.crt and tls.key)
import { readFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import { runIfMain } from "../harness.js";
import { TLS_CIPHERS } from "../../src/server/server.js";

runIfMain(import.meta.url, async ([dir, port]) => {
  if (!dir || !port) throw new Error("usage: https-sink TLS_DIR PORT");
  const server = https.createServer(
    {
      cert: readFileSync(path.join(dir, "tls.crt")),
      key: readFileSync(path.join(dir, "tls.key")),
      minVersion: "TLSv1.2",
      ciphers: TLS_CIPHERS,
    },
    (req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": 3 });
        res.end("ok\n");
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(Number(port), "127.0.0.1", resolve));
  process.stdout.write("ready\n");
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
});
