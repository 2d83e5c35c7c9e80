// `kubetrail redaction check`: does a candidate value match a masked value's HMAC tag?
// The investigator supplies the candidate; the key stays in the data directory.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { tagMatches, TAG_PREFIX } from "../audit/redact/tag.js";
import { readRedactionKey } from "../store/fs/keys.js";
import { CliError } from "./errors.js";
import { checkOutput, USAGE_EXIT } from "./output/format.js";

interface CheckOptions {
  data: string;
  tag: string;
  value?: string;
  valueFile?: string;
  valueBase64?: string;
  output: string;
}

export function registerRedaction(program: Command): void {
  const cmd = program.command("redaction").description("work with values masked by redaction");
  cmd
    .command("check")
    .description(
      `check whether a candidate secret is the value behind a tag (${TAG_PREFIX}…); exit 0 on a match, 1 otherwise. ` +
        "Give the secret itself (for a Secret's data, the decoded value, not its base64 form).",
    )
    .requiredOption("--data <dir>", "data directory of the log (holds keys/redaction.key)")
    .requiredOption("--tag <tag>", "the tag found in the log")
    .option("--value <text>", "the candidate, as UTF-8 text")
    .option("--value-file <file>", "the candidate: the exact bytes of this file")
    .option("--value-base64 <b64>", "the candidate: these base64-encoded bytes (binary secrets)")
    .option("-o, --output <format>", "text or json", "text")
    .action(check);
}

function candidateBytes(o: CheckOptions): Buffer {
  const given = [o.value, o.valueFile, o.valueBase64].filter((v) => v !== undefined).length;
  if (given !== 1)
    throw new CliError("give exactly one of --value, --value-file, --value-base64", USAGE_EXIT);
  if (o.value !== undefined) return Buffer.from(o.value, "utf8");
  if (o.valueBase64 !== undefined) return Buffer.from(o.valueBase64, "base64");
  try {
    return readFileSync(o.valueFile!);
  } catch (err) {
    throw new CliError(
      `--value-file ${o.valueFile}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      1,
      { cause: err },
    );
  }
}

async function check(o: CheckOptions): Promise<void> {
  checkOutput(o.output, ["text", "json"]);
  if (!o.tag.startsWith(TAG_PREFIX))
    throw new CliError(`--tag: not a kubetrail tag (expected ${TAG_PREFIX}…)`, USAGE_EXIT);
  // Checking must never create a key: a fresh key would make every check fail silently.
  const key = await readRedactionKey(o.data);
  if (key === null) {
    throw new CliError(`${o.data}: no redaction key (keys/redaction.key); is this the log's data directory?`);
  }
  const candidate = candidateBytes(o);
  const match = tagMatches(key, candidate, o.tag);
  process.stdout.write(
    o.output === "json" ? JSON.stringify({ match }) + "\n" : match ? "match\n" : "no match\n",
  );
  if (!match) process.exitCode = 1;
}
