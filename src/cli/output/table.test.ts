import { describe, expect, it } from "vitest";
import { CliError } from "../errors.js";
import { formatMachine, parseOutputFormat } from "./format.js";
import { formatTable } from "./table.js";

describe("formatTable", () => {
  it("aligns columns three spaces apart without trailing spaces", () => {
    expect(
      formatTable(
        ["TIME", "USER", "CODE"],
        [
          ["t1", "alice", "200"],
          ["t22", "bob", "-"],
        ],
      ),
    ).toBe("TIME   USER    CODE\nt1     alice   200\nt22    bob     -\n");
  });
});

describe("output formats", () => {
  it("rejects unknown formats as a usage error", () => {
    expect(() => parseOutputFormat("xml")).toThrow(CliError);
    expect(() => parseOutputFormat("xml")).toThrow(/unknown output format "xml"/);
    expect(parseOutputFormat("jsonl")).toBe("jsonl");
  });

  it("prints json, jsonl and yaml of the same list", () => {
    const list = { kind: "List", items: [{ a: 1 }, { a: 2 }] };
    expect(JSON.parse(formatMachine("json", list))).toEqual(list);
    expect(formatMachine("jsonl", list)).toBe('{"a":1}\n{"a":2}\n');
    expect(formatMachine("yaml", list)).toBe("kind: List\nitems:\n  - a: 1\n  - a: 2\n");
  });
});
