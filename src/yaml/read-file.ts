// Reading a YAML settings file the client side keeps (its own config, kubeconfigs): the parsed
// document, `undefined` for a missing file when that is allowed, or a message saying what was
// wrong, for the caller to raise as its own typed error naming the file.
import { readFileSync } from "node:fs";
import YAML from "yaml";

export type YamlFile =
  { ok: true; doc: unknown } | { ok: true; missing: true } | { ok: false; error: string };

export function readYamlFile(file: string): YamlFile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { ok: true, missing: true };
    return { ok: false, error: `cannot read (${code ?? (err as Error).message})` };
  }
  try {
    return { ok: true, doc: YAML.parse(text, { maxAliasCount: 100 }) as unknown };
  } catch (err) {
    return { ok: false, error: `not YAML (${(err as Error).message.split("\n")[0]})` };
  }
}
