import { describe, expect, it } from "vitest";
import { CelCompileError, celFailure, compileCel, POLICY_ROOTS, type Activation } from "./compile.js";
import { SUPPORTED_LIBRARIES } from "./kubernetes-library.js";
import { fromCelValue, toCelInput } from "./values.js";

const ROOTS = new Set<string>(POLICY_ROOTS);

function run(expr: string, object: unknown = {}, extra: Activation = {}): unknown {
  const p = compileCel(expr, { roots: ROOTS, variables: new Set(["v"]) });
  const r = p.evaluate({ object: toCelInput(object), ...extra });
  const failure = celFailure(r);
  if (failure !== undefined) return { error: failure };
  return fromCelValue(r as Exclude<typeof r, Error>);
}

function refused(expr: string, roots: ReadonlySet<string> = ROOTS): string {
  try {
    compileCel(expr, { roots });
  } catch (err) {
    expect(err).toBeInstanceOf(CelCompileError);
    return (err as CelCompileError).reason;
  }
  throw new Error(`${expr} was accepted`);
}

const pod = {
  metadata: { name: "web", labels: { app: "web" } },
  spec: {
    replicas: 3,
    ratio: 0.5,
    containers: [
      { name: "a", image: "nginx:latest", securityContext: { privileged: true } },
      { name: "b", image: "registry.example.com/b@sha256:abc" },
    ],
  },
};

describe("objects read as CEL maps", () => {
  // JSON objects are converted field by field as expressions read them: every way of reading a
  // map must see what a fully converted map holds.
  const obj = {
    metadata: { labels: { app: "web", tier: "front" }, annotations: {}, finalizers: null },
    spec: { ports: [{ port: 80, extra: { n: 1 } }, { port: 443 }], weights: { a: 1, b: 2.5 } },
  };
  it.each([
    ["size(object.metadata.labels)", 2],
    ["object.metadata.labels.size()", 2],
    ["'app' in object.metadata.labels", true],
    ["'db' in object.metadata.labels", false],
    ["has(object.metadata.finalizers)", false],
    ["'finalizers' in object.metadata", false], // a null field counts as absent
    ["has(object.metadata.annotations)", true],
    ["size(object.metadata.annotations) == 0", true],
    ["object.metadata.labels.all(k, k.startsWith('a') || k == 'tier')", true],
    ["object.metadata.labels.exists(k, object.metadata.labels[k] == 'front')", true],
    ["object.metadata.labels.map(k, k + '=' + object.metadata.labels[k])", ["app=web", "tier=front"]],
    ["object.metadata.labels == {'tier': 'front', 'app': 'web'}", true],
    ["object.metadata.labels == {'app': 'web'}", false],
    ["object.spec.ports[0].extra == {'n': 1}", true],
    ["object.spec.ports.map(p, p.port)", [80, 443]],
    ["object.spec.ports.exists(p, has(p.extra) && p.extra.n == 1)", true],
    ["object.spec.weights.b > 2.0 && object.spec.weights.a == 1", true],
    ["object.metadata.labels", { app: "web", tier: "front" }],
    ["object.spec.ports[1]", { port: 443 }],
    ["object.metadata.labels[1]", { error: expect.any(String) as unknown }],
    ["object.metadata.labels['nope']", { error: expect.any(String) as unknown }],
  ])("%s", (expr, want) => {
    expect(run(expr, obj)).toEqual(want);
  });
});

describe("CEL over Kubernetes objects", () => {
  it("treats JSON whole numbers as int and fractions as double, as Kubernetes' schemas do", () => {
    expect(run("object.spec.replicas + 1 == 4", pod)).toBe(true);
    expect(run("object.spec.replicas * 2", pod)).toBe(6);
    expect(run("object.spec.ratio * 2.0", pod)).toBe(1);
    expect(run("object.spec.replicas > 2.5", pod)).toBe(true);
  });

  it("reads a missing field as an error and has() as false", () => {
    expect(run("object.spec.missing == 1", pod)).toEqual({ error: expect.stringContaining("missing") });
    expect(run("has(object.spec.missing)", pod)).toBe(false);
    expect(run("has(object.spec.containers[0].securityContext)", pod)).toBe(true);
  });

  it("evaluates the usual macros over containers", () => {
    expect(
      run(
        "object.spec.containers.all(c, !has(c.securityContext) || c.securityContext.privileged != true)",
        pod,
      ),
    ).toBe(false);
    expect(run("object.spec.containers.exists(c, c.image.endsWith(':latest'))", pod)).toBe(true);
    expect(run("object.spec.containers.map(c, c.name)", pod)).toEqual(["a", "b"]);
    expect(run("object.spec.containers.filter(c, c.image.contains('@sha256:')).size()", pod)).toBe(1);
  });

  it("takes an object holding a $typeName key as a map, not as a protobuf message", () => {
    const tricky = { metadata: { $typeName: "google.protobuf.Timestamp", name: "x", seconds: 1 } };
    expect(run("object.metadata.name", tricky)).toBe("x");
    expect(run("object.metadata['$typeName']", tricky)).toBe("google.protobuf.Timestamp");
  });

  it("returns a division by zero or a bad index as an error value, never a throw", () => {
    expect(run("1 / 0")).toEqual({ error: expect.stringContaining("divide by zero") });
    expect(run("object.spec.containers[5].name", pod)).toEqual({ error: expect.any(String) });
    expect(run("int('x')")).toEqual({ error: expect.any(String) });
  });

  it("short-circuits errors away as CEL's commutative logic requires", () => {
    expect(run("object.spec.missing == 1 || true", pod)).toBe(true);
    expect(run("false && object.spec.missing == 1", pod)).toBe(false);
  });

  it("compares heterogeneous numbers and keeps uint and int apart in arithmetic", () => {
    expect(run("1 == 1.0")).toBe(true);
    expect(run("1u + 1")).toEqual({ error: expect.any(String) });
  });
});

describe("Kubernetes extension libraries", () => {
  it("strings", () => {
    expect(run("'Hello'.lowerAscii() + 'x'.upperAscii()")).toBe("helloX");
    expect(run("'a,b,c'.split(',')")).toEqual(["a", "b", "c"]);
    expect(run("['a', 'b'].join('-')")).toBe("a-b");
    expect(run("'  x '.trim()")).toBe("x");
    expect(run("'abcdef'.substring(1, 3)")).toBe("bc");
    expect(run("'nginx:latest'.lastIndexOf(':')")).toBe(5);
    expect(run("'aaa'.replace('a', 'b', 2)")).toBe("bba");
  });

  it("lists", () => {
    expect(run("[1, 2, 3].isSorted() && !([2, 1].isSorted())")).toBe(true);
    expect(run("[1, 2, 3].sum()")).toBe(6);
    expect(run("[0.5, 1.5].sum()")).toBe(2);
    expect(run("[].sum()")).toBe(0);
    expect(run("[3, 1, 2].min()")).toBe(1);
    expect(run("['b', 'c', 'a'].max()")).toBe("c");
    expect(run("[1, 2, 1].indexOf(1)")).toBe(0);
    expect(run("[1, 2, 1].lastIndexOf(1)")).toBe(2);
    expect(run("[1, 2].indexOf(2.0)")).toBe(1);
    expect(run("[1, 2].indexOf(5)")).toBe(-1);
    expect(run("[].min()")).toEqual({ error: expect.stringContaining("empty") });
    expect(run("[1, 'a'].isSorted()")).toEqual({ error: expect.stringContaining("compare") });
    expect(run("[[1], [2, 3]].flatten()")).toEqual([1, 2, 3]);
    expect(run("[1, 2, 2, 1].distinct()")).toEqual([1, 2]);
    expect(run("[1, 2, 3, 4].slice(1, 3)")).toEqual([2, 3]);
  });

  it("sets", () => {
    expect(run("sets.contains([1, 2, 3], [2, 3])")).toBe(true);
    expect(run("sets.contains([1, 2], [4])")).toBe(false);
    expect(run("sets.equivalent([1, 2], [2, 1, 1])")).toBe(true);
    expect(run("sets.intersects(['a'], ['b', 'a'])")).toBe(true);
  });

  it("regex with RE2 semantics", () => {
    expect(run("'ab12cd345'.find('[0-9]+')")).toBe("12");
    expect(run("'abc'.find('[0-9]+')")).toBe("");
    expect(run("'ab12cd345e6'.findAll('[0-9]+')")).toEqual(["12", "345", "6"]);
    expect(run("'ab12cd345e6'.findAll('[0-9]+', 2)")).toEqual(["12", "345"]);
    expect(run("'ab12'.findAll('[0-9]', 0)")).toEqual([]);
    expect(run("'registry.example.com/app'.matches('^registry\\\\.example\\\\.com/')")).toBe(true);
    // Linear time on the pattern a backtracking engine explodes on.
    expect(run(`'${"a".repeat(5000)}b'.matches('(a+)+$')`)).toBe(false);
  });

  it("quantity", () => {
    expect(run("quantity('1Gi') == quantity('1024Mi')")).toBe(true);
    expect(run("quantity('1Gi').isGreaterThan(quantity('1G'))")).toBe(true);
    expect(run("quantity('500m').isLessThan(quantity('1'))")).toBe(true);
    expect(run("quantity('1.5').compareTo(quantity('1500m'))")).toBe(0);
    expect(run("quantity('2k').asInteger()")).toBe(2000);
    expect(run("quantity('1e3').asInteger()")).toBe(1000);
    expect(run("quantity('1.5').asInteger()")).toEqual({ error: expect.stringContaining("integer") });
    expect(run("quantity('1.5').isInteger()")).toBe(false);
    expect(run("quantity('100Ei').isInteger()")).toBe(false);
    expect(run("quantity('-3').sign()")).toBe(-1);
    expect(run("quantity('1').add(quantity('500m')) == quantity('1.5')")).toBe(true);
    expect(run("quantity('1').sub(2).asInteger()")).toBe(-1);
    expect(run("quantity('250m').asApproximateFloat()")).toBe(0.25);
    expect(run("isQuantity('1Gi') && !isQuantity('1GB') && !isQuantity('')")).toBe(true);
    expect(run("quantity('bad')")).toEqual({ error: expect.stringContaining("quantities must match") });
  });

  it("url", () => {
    expect(run("url('https://example.com:443/a%20b?x=1&x=2&y').getHost()")).toBe("example.com:443");
    expect(run("url('https://example.com:443/').getHostname()")).toBe("example.com");
    expect(run("url('https://example.com:443/').getPort()")).toBe("443");
    expect(run("url('https://[::1]:8080/').getHostname()")).toBe("::1");
    expect(run("url('https://[::1]:8080/').getHost()")).toBe("[::1]:8080");
    expect(run("url('https://example.com/a%20b').getEscapedPath()")).toBe("/a%20b");
    expect(run("url('https://example.com/?x=1&x=2&y').getQuery()")).toEqual({ x: ["1", "2"], y: [""] });
    expect(run("url('/healthz').getScheme()")).toBe("");
    expect(run("isURL('https://x') && isURL('/p') && !isURL('relative/p') && !isURL('https://a b')")).toBe(
      true,
    );
    expect(run("url('x')")).toEqual({ error: expect.stringContaining("URL parse error") });
    expect(run("url('https://a') == url('https://a')")).toBe(true);
  });

  it("ip", () => {
    expect(run("ip('10.0.0.1').family()")).toBe(4);
    expect(run("ip('2001:DB8::0:1').family()")).toBe(6);
    expect(run("string(ip('2001:DB8:0:0:0:0:0:1'))")).toBe("2001:db8::1");
    // The standard conversions keep working beside the new overloads.
    expect(run("string(1) + string(true) + string(ip('::1'))")).toBe("1true::1");
    expect(run("ip('::1') == ip('0:0:0:0:0:0:0:1')")).toBe(true);
    expect(run("ip('127.0.0.1').isLoopback() && !ip('10.0.0.1').isLoopback()")).toBe(true);
    expect(run("ip('10.0.0.1').isGlobalUnicast() && !ip('169.254.169.254').isGlobalUnicast()")).toBe(true);
    expect(run("ip('169.254.169.254').isLinkLocalUnicast() && ip('fe80::1').isLinkLocalUnicast()")).toBe(
      true,
    );
    expect(run("ip('224.0.0.251').isLinkLocalMulticast() && ip('ff02::fb').isLinkLocalMulticast()")).toBe(
      true,
    );
    expect(run("ip('0.0.0.0').isUnspecified() && ip('::').isUnspecified()")).toBe(true);
    expect(run("ip.isCanonical('2001:db8::1') && !ip.isCanonical('2001:DB8::1')")).toBe(true);
    expect(run("isIP('1.2.3.4') && !isIP('1.2.3') && !isIP('01.2.3.4') && !isIP('fe80::1%eth0')")).toBe(true);
    expect(run("ip('::ffff:1.2.3.4')")).toEqual({ error: expect.stringContaining("IPv4-mapped") });
    expect(run("ip('fe80::1%eth0')")).toEqual({ error: expect.stringContaining("zone") });
    expect(run("ip('1.2.3.256')")).toEqual({ error: expect.stringContaining("over 255") });
    expect(run("ip.isCanonical('x')")).toEqual({ error: expect.stringContaining("not an IP address") });
  });

  it("cidr", () => {
    expect(run("cidr('10.0.0.0/8').containsIP(ip('10.1.2.3'))")).toBe(true);
    expect(run("cidr('10.0.0.0/8').containsIP('11.0.0.1')")).toBe(false);
    expect(run("cidr('10.0.0.0/8').containsIP('::1')")).toBe(false);
    expect(run("cidr('10.0.0.0/8').containsCIDR(cidr('10.1.0.0/16'))")).toBe(true);
    expect(run("cidr('10.1.0.0/16').containsCIDR('10.0.0.0/8')")).toBe(false);
    expect(run("cidr('2001:db8::/32').containsIP('2001:db8:1::1')")).toBe(true);
    expect(run("string(cidr('192.168.1.5/24').masked())")).toBe("192.168.1.0/24");
    expect(run("string(cidr('192.168.1.5/24').ip())")).toBe("192.168.1.5");
    expect(run("cidr('2001:db8::/48').prefixLength()")).toBe(48);
    expect(run("cidr('10.0.0.1/8') == cidr('10.0.0.1/8') && cidr('10.0.0.1/8') != cidr('10.0.0.0/8')")).toBe(
      true,
    );
    expect(run("isCIDR('10.0.0.0/8') && !isCIDR('10.0.0.0/33') && !isCIDR('10.0.0.0/08')")).toBe(true);
    expect(
      run("object.spec.cidrs.all(c, cidr('10.0.0.0/8').containsCIDR(c))", {
        spec: { cidrs: ["10.2.0.0/16"] },
      }),
    ).toBe(true);
    expect(run("cidr('10.0.0.0')")).toEqual({ error: expect.stringContaining("not a CIDR") });
  });
});

describe("refused at load, with the reason", () => {
  it("optional syntax", () => {
    expect(refused("object.?spec.orValue(1)")).toMatch(/optional syntax/);
  });
  it("authorizer", () => {
    expect(
      refused("authorizer.requestResource.check('get').allowed()", new Set([...ROOTS, "authorizer"])),
    ).toMatch(/authorizer/);
  });
  it("an undeclared name", () => {
    expect(refused("foo == 1")).toMatch(/undeclared reference to 'foo'/);
    expect(refused("params.x == 1", new Set(["object"]))).toMatch(/undeclared reference to 'params'/);
  });
  it("an unknown function", () => {
    expect(refused("object.metadata.name.reverseMe()")).toMatch(/unsupported function reverseMe/);
    expect(refused("semver('1.2.3').major() == 1")).toMatch(/unsupported function semver/);
    expect(refused("math.greatest(1, 2) == 2")).toMatch(/unsupported function math.greatest/);
  });
  it("an invalid constant pattern", () => {
    expect(refused("object.metadata.name.matches('(')")).toMatch(/invalid RE2 pattern/);
    expect(refused("'x'.find('a++')")).toMatch(/invalid RE2 pattern/);
  });
  it("an undeclared composition variable", () => {
    expect(refused("variables.missing == 1")).toMatch(/variables.missing is not declared/);
  });
  it("macros nested too deeply", () => {
    expect(refused("[[[[[1]]]]].all(a, a.all(b, b.all(c, c.all(d, d.all(e, e > 0)))))")).toMatch(
      /nested deeper/,
    );
  });
  it("object construction and syntax errors", () => {
    expect(refused("google.protobuf.Duration{seconds: 1} == duration('1s')")).toMatch(/constructing/);
    expect(refused("object.spec.(")).toMatch(/syntax error/);
  });
});

describe("composition variables", () => {
  it("reads variables.NAME from the activation and reports which it reads", () => {
    const p = compileCel("variables.v + 1", { roots: ROOTS, variables: new Set(["v"]) });
    expect([...p.variablesRead]).toEqual(["v"]);
    expect(fromCelValue(p.evaluate({ variables: new Map([["v", 41n]]) }) as never)).toBe(42);
  });
});

describe("the documented libraries", () => {
  it("every function docs/guardrails.md lists is one kubetrail evaluates", () => {
    for (const [library, names] of Object.entries(SUPPORTED_LIBRARIES))
      for (const name of names) {
        const expr = name.includes(".") ? `${name}(['a'], ['a'])` : `'a'.${name}()`;
        try {
          compileCel(expr, { roots: ROOTS });
        } catch (err) {
          // Wrong arity or types fail at run time, never at load: only "unsupported" is a miss.
          expect((err as Error).message, `${library}: ${name}`).not.toMatch(/unsupported function/);
        }
      }
  });
});
