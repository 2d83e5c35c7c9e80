import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { generateEvents } from "../../bench/gen/events.js";
import { plantedAssignments, plantedSecrets } from "../../bench/gen/secrets.js";
import { BUILTIN_FORMATS, classifyKey, detectSecrets, findSecretsInJson, SecretScanner } from "./index.js";

const SEEDS = [1, 2, 3];
const scanner = new SecretScanner();

describe("format and name detectors", () => {
  for (const seed of SEEDS) {
    it(`find every planted credential, exactly (seed ${seed})`, () => {
      for (const p of plantedSecrets(seed)) {
        const findings = scanner.detect(p.value, p.key === undefined ? {} : { key: p.key });
        const what = `${p.kind} in ${JSON.stringify(p.value.slice(0, 80))}`;
        expect(findings.length, what).toBe(1);
        const [f] = findings;
        expect(f!.kind, what).toBe(p.kind);
        expect(p.value.slice(f!.start, f!.end), what).toBe(p.key === undefined ? p.secret : p.value);
      }
    });
  }

  it("find each credential inside a text: after `name=`, in quotes, in a URL query", () => {
    for (const p of plantedSecrets(5).filter((x) => x.key === undefined)) {
      for (const text of [`?value=${p.value}&limit=500`, `note: "${p.value}" (copied)`, `x ${p.value}\n`]) {
        const spans = scanner.detect(text).map((f) => text.slice(f.start, f.end));
        expect(spans, `${p.kind} in ${JSON.stringify(text.slice(0, 60))}`).toContain(p.secret);
      }
    }
  });

  it("have a planted sample for every built-in format", () => {
    const planted = new Set(plantedSecrets(1).map((p) => p.kind));
    expect(BUILTIN_FORMATS.map((f) => f.id).filter((id) => !planted.has(id))).toEqual([]);
  });

  it("find credentials assigned to credential-like names inside a text", () => {
    const planted = plantedAssignments(7);
    const text = planted[0]!.value;
    const found = scanner.detect(text).map((f) => ({ kind: f.kind, secret: text.slice(f.start, f.end) }));
    expect(found).toEqual(planted.map((p) => ({ kind: p.kind, secret: p.secret })));
  });

  it.each([
    ["secretName: my-tls", []],
    ["password: ${DB_PASSWORD}", []],
    ["token: <your token here>", []],
    ["client_secret: kube-system-default", []],
    ["api_key = true", []],
    ["a basic example of a sentence", []],
    ["eyJhbGciOiJIUzI1NiJ9 is not a whole JWT", []],
    ["--token abcdef.0123456789abcdef", ["credential"]],
    ["db.password=hunter2", ["password"]],
    ['{"password":"hunter2"}', ["password"]],
    ['{\\"password\\":\\"hunter2\\"}', ["password"]],
    ["Server=db;Database=app;User Id=sa;Password=S3cr3t!;", ["password"]],
    ["/api/v1/pods?access_token=Zx81kq0PqLm2Tt7uVv9w&watch=true", ["credential"]],
    ['{"env":[{"name":"DB_PASSWORD","value":"hunter22"}]}', ["password"]],
    ['{\\"args\\":[\\"--token\\",\\"Zx81kq0PqLm2Tt7uVv9wX1\\"]}', ["credential"]],
  ])("%j → %j", (text, kinds) => {
    expect(scanner.detect(text).map((f) => f.kind)).toEqual(kinds);
  });

  it("ignore what the caller marks opaque (values masked already)", () => {
    const tagged = new SecretScanner({ opaque: /kubetrail-hmac-sha256:[A-Za-z0-9_-]+/g });
    const text = "Authorization: Bearer kubetrail-hmac-sha256:AAAAAAAAAAAAAAAAAAAAAAAA";
    expect(scanner.detect(text).map((f) => f.kind)).toEqual(["bearer"]);
    expect(tagged.detect(text)).toEqual([]);
  });

  it("tell credential names from names that only mention one", () => {
    const table: [string, string | undefined][] = [
      ["password", "password"],
      ["DB_PASSWORD", "password"],
      ["mysqlRootPassword", "password"],
      ["pwd", "password"],
      ["pass", "password"],
      ["password2", "password"],
      ["client_secret", "credential"],
      ["GITHUB_TOKEN", "credential"],
      ["apiKey", "credential"],
      ["X-Api-Key", "credential"],
      ["AWS_SECRET_ACCESS_KEY", "credential"],
      ["secretAccessKey", "credential"],
      ["credentials", "credential"],
      ["secretName", undefined],
      ["tokenTTL", undefined],
      ["passwordFile", undefined],
      ["key", undefined],
      ["cache_key", undefined],
      ["aws_access_key_id", undefined],
      ["bypass", undefined],
      ["api/key", undefined],
    ];
    expect(table.map(([name]) => [name, classifyKey(name)])).toEqual(table);
  });

  it("leave realistic audit events alone (no finding in 3,000 generated events)", () => {
    const events = [...generateEvents({ seed: 11, count: 3000 })];
    const found = events.flatMap((e) => findSecretsInJson(e, scanner));
    expect(found).toEqual([]);
  });

  it("report where each finding is inside a JSON value, with env names as context", () => {
    const pod = {
      spec: {
        containers: [
          {
            args: ["--token", "Zx81kq0PqLm2Tt7uVv9wX1"],
            env: [
              { name: "LOG_LEVEL", value: "debug" },
              { name: "DB_PASSWORD", value: "hunter22" },
            ],
          },
        ],
      },
    };
    expect(findSecretsInJson(pod).map((f) => [f.path.join("."), f.kind])).toEqual([
      ["spec.containers.0.args.1", "credential"],
      ["spec.containers.0.env.1.value", "password"],
    ]);
  });

  it("merge overlapping findings (a JWT after Bearer is one span)", () => {
    const token = plantedSecrets(4).find((p) => p.kind === "jwt")!.secret;
    const found = detectSecrets(`Authorization: Bearer ${token}`);
    expect(found).toHaveLength(1);
    expect(found[0]!.start).toBe("Authorization: Bearer ".length);
  });

  it("scan hostile texts in linear time (would time out if quadratic)", () => {
    const n = 2_000_000;
    for (const unit of ["eyJa.", "a-", "-----BEGIN PRIVATE KEY-----", "password=", "://a:", "Bearer "]) {
      const text = unit.repeat(Math.ceil(n / unit.length));
      expect(() => scanner.detect(text)).not.toThrow();
    }
  });
});

describe("the raw pre-filter", () => {
  it("passes every JSON text in which the detectors find something (property, seeded)", () => {
    const seed = 19_002;
    console.info(`pre-filter property seed ${seed}`);
    const planted = [...plantedSecrets(seed), ...plantedAssignments(seed)];
    const escapeSome = (json: string, every: number): string =>
      json.replace(/[A-Za-z]/g, (c, at: number) =>
        at % every === 0 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}` : c,
      );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: planted.length - 1 }),
        fc.constantFrom("data", "annotations", "env", "args", "uri"),
        fc.integer({ min: 0, max: 7 }),
        (which, where, escape) => {
          const p = planted[which]!;
          const holder =
            where === "env"
              ? { env: [{ name: p.key ?? "VALUE", value: p.value }] }
              : where === "args"
                ? { args: [`--${p.key ?? "value"}`, p.value] }
                : where === "uri"
                  ? { requestURI: `/api/v1/x?${p.key ?? "q"}=${encodeURIComponent(p.value)}` }
                  : { [where]: { [p.key ?? "config"]: p.value } };
          let json = JSON.stringify(holder);
          if (escape > 0) json = escapeSome(json, escape + 1);
          const parsed = JSON.parse(json) as unknown;
          const found = findSecretsInJson(parsed, scanner);
          if (found.length > 0) expect(scanner.mayContainSecrets(Buffer.from(json))).toBe(true);
        },
      ),
      { seed, numRuns: 2000 },
    );
  });

  it("lets most realistic events through", () => {
    const events = [...generateEvents({ seed: 3, count: 2000 })].map((e) => Buffer.from(JSON.stringify(e)));
    const passed = events.filter((b) => !scanner.mayContainSecrets(b)).length;
    expect(passed / events.length).toBeGreaterThan(0.8);
  });

  it("does not let Go's escapes of <, > and & alone send an event down the slow path", () => {
    const json = JSON.stringify({ requestURI: "/api/v1/pods?limit=500&watch=1" }).replace("&", "\\u0026");
    expect(scanner.mayContainSecrets(Buffer.from(json))).toBe(false);
    expect(scanner.mayContainSecrets(Buffer.from(json.replace("watch", "w\\u0061tch")))).toBe(true);
  });
});
