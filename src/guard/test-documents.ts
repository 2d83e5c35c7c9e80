// Which documents of a policy tree are policy unit tests rather than policies. Policy
// repositories keep their tests beside the policies (policies/tests/, as `kyverno test` users
// do): a GuardTest and the resource files it names are read by `guard test`, and left out
// wherever the tree is loaded as policies. Anything else that is not a policy is still refused.
import path from "node:path";
import { isRecord } from "../json/record.js";
import { documentFiles, type SourceDocument } from "./documents.js";

export const GUARD_TEST_KIND = "GuardTest";

export function isGuardTest(d: SourceDocument): boolean {
  return d.value["apiVersion"] === "kubetrail.dev/v1" && d.value["kind"] === GUARD_TEST_KIND;
}

/** The files a GuardTest names as its resources, as absolute paths; those missing are skipped. */
function resourceFiles(test: SourceDocument): string[] {
  const spec = test.value["spec"];
  const named = isRecord(spec) && Array.isArray(spec["resources"]) ? spec["resources"] : [];
  return named
    .filter((p): p is string => typeof p === "string")
    .flatMap((p) => {
      try {
        return documentFiles(path.resolve(path.dirname(test.file), p), "test");
      } catch {
        return []; // `guard test` reports a missing resource file; loading policies does not
      }
    })
    .map((f) => path.resolve(f));
}

/** `docs` without the GuardTests among them and the resource files those name. */
export function withoutTests(docs: readonly SourceDocument[]): SourceDocument[] {
  const tests = docs.filter(isGuardTest);
  if (tests.length === 0) return [...docs];
  const resources = new Set(tests.flatMap(resourceFiles));
  return docs.filter((d) => !isGuardTest(d) && !resources.has(path.resolve(d.file)));
}
