import { describe, expect, it } from "vitest";
import { IndexError } from "./errors.js";
import { compileSearch, decodeCursor, encodeCursor, parseCode, parseFilter, parseResource } from "./query.js";

describe("parseFilter", () => {
  it("collects repeated and comma-separated values", () => {
    const f = parseFilter({
      user: ["alice", "bob"],
      verb: ["delete,patch"],
      code: ["4xx", "500"],
      limit: ["5"],
    });
    expect(f.users).toEqual(["alice", "bob"]);
    expect(f.verbs).toEqual(["delete", "patch"]);
    expect(f.codes).toEqual([
      { min: 400, max: 499 },
      { min: 500, max: 500 },
    ]);
    expect(f.limit).toBe(5);
    expect(f.asc).toBe(false);
    expect(f.stages).toEqual([]);
  });

  it("parses resources with groups and subresources", () => {
    expect(parseResource("secrets")).toEqual({ resource: "secrets" });
    expect(parseResource("pods/exec")).toEqual({ resource: "pods", subresource: "exec" });
    expect(parseResource("deployments.apps")).toEqual({ resource: "deployments", apiGroup: "apps" });
    expect(parseResource("clusterrolebindings.rbac.authorization.k8s.io")).toEqual({
      resource: "clusterrolebindings",
      apiGroup: "rbac.authorization.k8s.io",
    });
    expect(parseResource("deployments.apps/scale")).toEqual({
      resource: "deployments",
      apiGroup: "apps",
      subresource: "scale",
    });
    expect(parseResource("configmaps.core")).toEqual({ resource: "configmaps", apiGroup: "" });
    expect(parseResource("pods/*")).toEqual({ resource: "pods", subresource: "*" });
  });

  it("rejects bad values naming the filter and the value", () => {
    const cases: [Record<string, string[]>, RegExp][] = [
      [{ since: ["yesterday"] }, /^since: "yesterday" is not a duration/],
      [{ from: ["2026-13-01T00:00:00Z"] }, /^from: "2026-13-01T00:00:00Z" is not an RFC 3339 time/],
      [{ code: ["4x"] }, /^code: "4x" is not an HTTP status code/],
      [{ code: ["600"] }, /^code: "600"/],
      [{ resource: ["Secrets"] }, /^resource: "Secrets" is not a resource/],
      [{ decision: ["deny"] }, /^decision: "deny" is not allow or forbid/],
      [{ stage: ["Done"] }, /^stage: "Done" is not a stage/],
      [{ kind: ["alert"] }, /^kind: "alert" is not event or decision/],
      [{ result: ["forbid"] }, /^result: "forbid" is not an admission result/],
      [{ limit: ["0"] }, /^limit: "0" is not a whole number/],
      [{ limit: ["1", "2"] }, /^limit: given 2 times/],
      [{ colour: ["red"] }, /^colour: unknown filter/],
      [{ user: [""] }, /^user: empty value/],
      [{ from: ["2026-11-21T04:00:00Z"], to: ["2026-11-21T03:00:00Z"] }, /^from: .* is after/],
      [{ cursor: ["!!"] }, /^cursor: "!!" is not a cursor/],
    ];
    for (const [raw, message] of cases) {
      let caught: unknown;
      try {
        parseFilter(raw);
      } catch (err) {
        caught = err;
      }
      expect(caught, JSON.stringify(raw)).toBeInstanceOf(IndexError);
      expect((caught as Error).message).toMatch(message);
    }
  });

  it("parses code classes", () => {
    expect(parseCode("5xx")).toEqual({ min: 500, max: 599 });
    expect(parseCode("403")).toEqual({ min: 403, max: 403 });
  });

  it("round-trips cursors", () => {
    const c = { timeUs: 1795240705_096042, idx: 12345 };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    expect(parseFilter({ cursor: [encodeCursor(c)] }).cursor).toEqual(c);
  });
});

/** An index that has never seen any string. */
const NO_KEYS = { id: () => undefined, auditKey: () => 0n };

describe("compileSearch", () => {
  it("keeps values out of the SQL text", () => {
    const evil = "x' OR 1=1 --";
    const ids = new Map([[evil, 7]]);
    const q = compileSearch(
      parseFilter({ user: [evil], group: [evil], since: ["1h"] }),
      10_000_000_000,
      { id: (v) => ids.get(v), auditKey: () => 0n },
      "e.idx",
    );
    expect(q.sql).not.toContain(evil);
    // Strings the index interned travel as their ids, the rest (group names) as parameters.
    expect(q.params).toEqual([7, evil, 10_000_000_000 - 3_600_000_000, 101]);
  });

  it("matches nothing for a value the index has never seen", () => {
    const q = compileSearch(parseFilter({ user: ["nobody"] }), 0, NO_KEYS, "e.idx");
    expect(q.sql).toContain("e.final = 1 AND 0 ORDER BY");
  });

  it("defaults to final stages and newest first with one look-ahead row", () => {
    const q = compileSearch(parseFilter({ limit: ["10"] }), 0, NO_KEYS, "e.idx");
    expect(q.sql).toBe(
      "SELECT e.idx FROM entries e WHERE e.final = 1 ORDER BY e.time_us DESC, e.idx DESC LIMIT ?",
    );
    expect(q.params).toEqual([11]);
  });
});
