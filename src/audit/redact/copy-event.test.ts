import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../types.js";
import { copyEvent } from "./copy-event.js";

describe("copyEvent", () => {
  it("copies shallowly, in key order, keeping a __proto__ key as data", () => {
    const raw = JSON.parse(
      '{"kind":"Event","level":"Metadata","__proto__":{"x":1},"objectRef":{"resource":"pods"}}',
    ) as AuditEvent;
    const copy = copyEvent(raw);
    expect(copy).not.toBe(raw);
    expect(JSON.stringify(copy)).toBe(JSON.stringify(raw));
    expect(Object.keys(copy)).toEqual(["kind", "level", "__proto__", "objectRef"]);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(copy.objectRef).toBe(raw.objectRef);
  });
});
