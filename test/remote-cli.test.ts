// The read commands against a running server give the same output as with --data, page through
// any number of entries, keep their settings in client-config contexts, and believe nothing
// they cannot prove: a forged entry, a forged checkpoint, a forked or rolled-back log, junk
// answers, an unreachable server, a wrong CA or token are each one line on stderr and exit 1.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEvents } from "../bench/gen/events.js";
import { openFsLog } from "../src/store/fs/storage.js";
import { runCli, type CliResult } from "./fixtures/cli.js";
import { startServe, type ServeProcess } from "./fixtures/audit/serve-process.js";
import { startHostileServer, type HostileServer } from "./fixtures/hostile-server.js";
import { scenarioEntries } from "./query-fixtures.js";

const SEED = 2207;
const EXTRA = 2600;

let root: string;
let dir: string;
let serve: ServeProcess;
let vkey: string;
let caFile: string;
let tokenFile: string;
let env: Record<string, string>;

/** The flags of a remote read; `with_` replaces the server, CA, token file or key (null: leave it out). */
function remote(
  server = `https://127.0.0.1:${serve.port}`,
  with_: { ca?: string; token?: string; key?: string | null } = {},
): string[] {
  const key = with_.key === undefined ? vkey : with_.key;
  return [
    "--server",
    server,
    "--ca",
    with_.ca ?? caFile,
    "--token-file",
    with_.token ?? tokenFile,
    ...(key === null ? [] : ["--key", key]),
  ];
}

const cli = (args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> =>
  runCli(args, undefined, { ...env, ...extraEnv });

/** One clean line on stderr, no stack, exit 1. */
function expectOneLineFailure(r: CliResult, message: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

beforeAll(async () => {
  console.log(`remote-cli: generated events seed ${SEED}`);
  root = mkdtempSync(join(tmpdir(), "kubetrail-remote-cli-"));
  dir = join(root, "data");
  env = { XDG_STATE_HOME: join(root, "state"), KUBETRAIL_CONFIG: join(root, "client.yaml") };
  const log = await openFsLog(dir, { origin: "remote-cli.example/log", integrateIntervalMs: 20 });
  const entries = [
    ...scenarioEntries(),
    ...[...generateEvents({ seed: SEED, count: EXTRA })].map((e) =>
      Buffer.from(JSON.stringify({ kind: "Event", apiVersion: "audit.k8s.io/v1", ...e })),
    ),
  ];
  await log.append(entries);
  await log.waitIntegrated(entries.length);
  vkey = log.verifierKey;
  await log.close();
  serve = await startServe(["--data", dir, "--listen", "127.0.0.1:0", "--no-detect"]);
  caFile = join(dir, "tls", "ca.crt");
  tokenFile = join(dir, "read-token");
  // The server indexes on start: wait until it answers the whole scenario.
  for (let i = 0; i < 200; i++) {
    const r = await cli(["query", ...remote(), "--user", "mallory", "-o", "jsonl"]);
    if (r.code === 0 && r.stdout.trim().split("\n").length === 2) break;
    await new Promise((res) => setTimeout(res, 100));
  }
});

afterAll(async () => {
  if (serve !== undefined && serve.child.exitCode === null) await serve.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("remote read commands give the output of --data", () => {
  const questions: string[][] = [
    ["query", "--user", "mallory"],
    ["query", "--verb", "delete,update", "-o", "json"],
    ["query", "--resource", "pods/exec", "-o", "wide"],
    ["query", "--code", "4xx", "-o", "yaml"],
    ["query", "--namespace", "prod", "--asc", "--limit", "5", "-o", "jsonl"],
    ["history", "cm/app-config", "-n", "prod"],
    ["history", "deploy/web", "-o", "json"],
    ["top", "user"],
    ["top", "verbs", "--since", "3650d", "-o", "json"],
    ["proof", "7"],
    ["proof", "cm/app-config", "-n", "prod", "-o", "json"],
    ["keys"],
  ];

  for (const q of questions) {
    it(q.join(" "), async () => {
      const local = await cli([...q, "--data", dir]);
      const served = await cli([...q, ...remote()]);
      expect(local.stderr).toBe("");
      expect(local.code).toBe(0);
      expect(served.stderr).toBe("");
      expect(served.code).toBe(0);
      expect(served.stdout).toBe(local.stdout);
      expect(served.stdout.length).toBeGreaterThan(10);
    });
  }

  it("streams every match page by page with --limit all, and pages by cursor", async () => {
    const local = await cli(["query", "--data", dir, "--limit", "all", "--asc", "-o", "jsonl"]);
    const served = await cli(["query", ...remote(), "--limit", "0", "--asc", "-o", "jsonl"]);
    expect(served.code).toBe(0);
    const items = served.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { index: number });
    expect(items.length).toBeGreaterThan(1000); // more than one page of the server's
    expect(served.stdout).toBe(local.stdout);
    expect(new Set(items.map((i) => i.index)).size).toBe(items.length);
    // --limit N then --cursor continues exactly where the first listing stopped.
    const firstRun = await cli(["query", ...remote(), "--limit", "1100", "--asc", "-o", "json"]);
    expect(firstRun.stderr).toBe("");
    const first = JSON.parse(firstRun.stdout) as {
      items: { index: number }[];
      metadata: { continue: string };
    };
    const rest = await cli([
      "query",
      ...remote(),
      "--limit",
      "all",
      "--asc",
      "--cursor",
      first.metadata.continue,
      "-o",
      "jsonl",
    ]);
    expect(rest.stderr).toBe("");
    const restIdx = rest.stdout
      .trimEnd()
      .split("\n")
      .map((l) => (JSON.parse(l) as { index: number }).index);
    expect([...first.items.map((i) => i.index), ...restIdx]).toEqual(items.map((i) => i.index));
  });

  it("exports a bundle over several pages that verifies offline", async () => {
    const file = join(root, "remote-bundle.json");
    const r = await cli(["export", ...remote(), "--limit", "all", "-o", file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^wrote \d{4} entries proven against checkpoint size \d+ to /);
    const v = await cli(["verify-bundle", file, "--key", vkey]);
    expect(v.stderr).toBe("");
    expect(v.stdout).toMatch(/^OK: \d{4} entries of log "remote-cli.example\/log"/);
  });
});

describe("client config contexts", () => {
  it("adds, switches and uses contexts instead of flags", async () => {
    const set = await cli(["config", "set-context", "lab", ...remote()]);
    expect(set.code, set.stderr).toBe(0);
    const other = await cli([
      "config",
      "set-context",
      "elsewhere",
      "--server",
      "https://127.0.0.1:1",
      "--fetch-key",
    ]);
    expectOneLineFailure(other, /cannot reach https:\/\/127\.0\.0\.1:1: connection refused/);
    const config = readFileSync(env["KUBETRAIL_CONFIG"] as string, "utf8");
    expect(config).toContain("current-context: lab");
    expect(config).not.toContain(readFileSync(tokenFile, "utf8").trim()); // a path, never the token
    const viaContext = await cli(["query", "--user", "bob", "-o", "json"]);
    const viaFlags = await cli(["query", ...remote(), "--user", "bob", "-o", "json"]);
    expect(viaContext.stderr).toBe("");
    expect(viaContext.stdout).toBe(viaFlags.stdout);
    expect(
      (await cli(["config", "set-context", "second", "--server", "https://127.0.0.1:2", "--key", vkey])).code,
    ).toBe(0);
    expect((await cli(["config", "use-context", "second"])).code).toBe(0);
    expect((await cli(["config", "current-context"])).stdout).toBe("second\n");
    expectOneLineFailure(await cli(["query"]), /cannot reach https:\/\/127\.0\.0\.1:2/);
    expect((await cli(["query", "--context", "lab", "--user", "bob", "-o", "json"])).stdout).toBe(
      viaFlags.stdout,
    );
    const list = await cli(["config", "get-contexts"]);
    expect(list.stdout).toMatch(/^CURRENT\s+NAME\s+SERVER/);
    expect(list.stdout).toMatch(/\n\*\s+second\s+https:\/\/127\.0\.0\.1:2/);
    expectOneLineFailure(await cli(["query", "--context", "nope"]), /no context "nope" \(have lab, second\)/);
  });

  it("says which source is missing, and refuses --data with --server", async () => {
    const none = await runCli(["query"], undefined, { ...env, KUBETRAIL_CONFIG: join(root, "absent.yaml") });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no source to read: give --data DIR .* or --server URL/);
    const both = await cli(["query", "--data", dir, "--server", "https://127.0.0.1:1"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--data and --server\/--context are mutually exclusive/);
    const noKey = await cli(["query", ...remote(undefined, { key: null })]);
    expectOneLineFailure(noKey, /no verifier key pinned for https:\/\/127\.0\.0\.1:\d+.*--key VKEY/);
  });
});

describe("the client believes nothing it cannot prove", () => {
  let hostile: HostileServer | undefined;
  let hostileCa: string;

  async function against(answer: Parameters<typeof startHostileServer>[1]): Promise<string[]> {
    await hostile?.close();
    hostile = await startHostileServer({ port: serve.port, ca: readFileSync(caFile, "utf8") }, answer);
    hostileCa = join(root, `hostile-${Math.random().toString(36).slice(2)}.crt`);
    writeFileSync(hostileCa, hostile.caPem);
    return ["--server", hostile.url, "--ca", hostileCa, "--token-file", tokenFile, "--key", vkey];
  }

  afterAll(async () => hostile?.close());

  it("rejects an altered entry, naming it", async () => {
    let altered = -1;
    const flags = await against(async (path, forward) => {
      const r = await forward();
      if (!path.startsWith("/v1/events?")) return r;
      const body = JSON.parse(r.body) as { items: { index: number; entry: string }[] };
      const item = body.items.find((i) => i.entry.includes('"mallory"'));
      if (item !== undefined) {
        item.entry = item.entry.replace('"mallory"', '"someone"');
        altered = item.index;
      }
      return { status: r.status, body: JSON.stringify(body) };
    });
    const r = await cli(["query", ...flags, "--user", "mallory"]);
    expect(altered).toBeGreaterThanOrEqual(0);
    expectOneLineFailure(r, new RegExp(`entry ${altered}: its inclusion proof does not verify`));
  });

  it("rejects an entry moved to another index, a forged proof, and a proof for another tree", async () => {
    const cases: [
      (body: { treeSize: number; items: { index: number; inclusionProof: string[] }[] }) => void,
      RegExp,
    ][] = [
      [
        (b) => void ((b.items[0] as { index: number }).index += 1),
        /entry \d+: its inclusion proof does not verify/,
      ],
      [
        (b) =>
          void ((b.items[0] as { inclusionProof: string[] }).inclusionProof[0] = Buffer.alloc(32, 7).toString(
            "base64",
          )),
        /entry \d+: its inclusion proof does not verify/,
      ],
      [(b) => void (b.treeSize -= 1), /proofs are for tree size \d+, not the checkpoint's/],
    ];
    for (const [mutate, message] of cases) {
      const flags = await against(async (path, forward) => {
        const r = await forward();
        if (!path.startsWith("/v1/events?")) return r;
        const body = JSON.parse(r.body) as Parameters<typeof mutate>[0];
        mutate(body);
        return { status: r.status, body: JSON.stringify(body) };
      });
      expectOneLineFailure(await cli(["query", ...flags, "--verb", "delete"]), message);
    }
  });

  it("rejects a checkpoint not signed by the pinned key", async () => {
    const flags = await against(async (path, forward) => {
      const r = await forward();
      if (!path.startsWith("/v1/events/")) return r;
      return {
        status: r.status,
        body: r.body.replace(/\\n(\d+)\\n/, (_m, n: string) => `\\n${Number(n) + 1}\\n`),
      };
    });
    expectOneLineFailure(
      await cli(["proof", "3", ...flags]),
      /the checkpoint is not signed by the pinned key "remote-cli\.example\/log"/,
    );
  });

  it("rejects junk answers", async () => {
    const junk: [string, string, RegExp][] = [
      [
        "text/html",
        "<html><body>Welcome to nginx</body></html>",
        /is not JSON \(starts with "<html><body>Welcome to nginx/,
      ],
      [
        "application/json",
        '{"kind":"Status","items":"none"}',
        /"treeSize" is not a log index \(is this a kubetrail server\?\)/,
      ],
      ["application/json", "[1,2,3]", /the answer is not a JSON object/],
    ];
    for (const [type, body, message] of junk) {
      const flags = await against(async () => ({ status: 200, type, body }));
      expectOneLineFailure(await cli(["query", ...flags]), message);
    }
    const flags = await against(async () => ({
      status: 502,
      type: "text/html",
      body: "<h1>Bad Gateway</h1>",
    }));
    expectOneLineFailure(
      await cli(["history", "deploy/web", ...flags]),
      /HTTP 502: starts with "<h1>Bad Gateway<\/h1>"/,
    );
  });

  it("rejects a server whose log is not an extension of the one seen before", async () => {
    // A second log signed with the same key but with other entries: a fork.
    const forkDir = join(root, "fork");
    cpSync(join(dir, "keys"), join(forkDir, "keys"), { recursive: true });
    const fork = await openFsLog(forkDir, { integrateIntervalMs: 20 });
    const forged = scenarioEntries().map((e) =>
      Buffer.from(Buffer.from(e).toString("utf8").replace("mallory", "nobody")),
    );
    await fork.append([...forged, ...forged, ...forged]);
    await fork.waitIntegrated(forged.length * 3);
    await fork.close();
    const forkServe = await startServe(["--data", forkDir, "--listen", "127.0.0.1:0", "--no-detect"]);
    try {
      const forkFlags = [
        "--server",
        `https://127.0.0.1:${forkServe.port}`,
        "--ca",
        join(forkDir, "tls", "ca.crt"),
        "--token-file",
        join(forkDir, "read-token"),
        "--key",
        vkey,
      ];
      // This client has seen the real log (XDG_STATE_HOME keeps its newest checkpoint).
      const r = await cli(["proof", "1", ...forkFlags]);
      expectOneLineFailure(
        r,
        /the server's checkpoint \(size \d+\) is older than one this client already verified|is not an extension of the one of size \d+ this client verified before/,
      );
      // A client that never saw the real log has nothing to compare with: the fork's own
      // entries verify against its own signed checkpoint.
      const fresh = await cli(["proof", "1", ...forkFlags], { XDG_STATE_HOME: join(root, "fresh-state") });
      expect(fresh.code, fresh.stderr).toBe(0);
    } finally {
      await forkServe.stop();
    }
  });

  it("fails in one line on an unreachable server, a wrong CA, a wrong token", async () => {
    expectOneLineFailure(
      await cli(["query", ...remote("https://127.0.0.1:1")]),
      /cannot reach https:\/\/127\.0\.0\.1:1: connection refused/,
    );
    const otherCa = join(root, "other-ca.crt");
    writeFileSync(
      otherCa,
      (await startHostileServer({ port: 1, ca: "" }, async () => ({ status: 200, body: "{}" }))).caPem,
    );
    const wrongCa = await cli(["query", ...remote(undefined, { ca: otherCa })]);
    expectOneLineFailure(
      wrongCa,
      /the server's certificate is not trusted \(.*\); give the CA that issued it \(--ca\)/,
    );
    const badToken = join(root, "bad-token");
    writeFileSync(badToken, "not-the-read-token-at-all\n");
    const wrongToken = await cli(["query", ...remote(undefined, { token: badToken })]);
    expectOneLineFailure(wrongToken, /\/v1\/events: forbidden: token not valid for read/);
    const missing = await cli(["query", ...remote(undefined, { ca: join(root, "nope.crt") })]);
    expectOneLineFailure(missing, /CA file .*nope\.crt: cannot read \(ENOENT\)/);
  });
});
