// Assembles the active rule set: built-ins, Sigma files from directories, and the config's
// switches, thresholds and allow-lists. Any problem anywhere rejects the whole load, listing
// every file and reason, so a half-loaded rule set never runs.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { builtinRules } from "./builtin/index.js";
import type { RulesConfig } from "./rules-config.js";
import { parseSigmaRule } from "./sigma/loader.js";
import { DetectError, type AllowList, type Rule } from "./types.js";

export interface LoadRulesOptions {
  builtins: boolean;
  dirs: string[];
  config?: RulesConfig;
}

export async function loadRules(opts: LoadRulesOptions): Promise<Rule[]> {
  const problems: string[] = [];
  const rules: Rule[] = opts.builtins ? builtinRules(opts.config?.controlPlane?.users) : [];
  for (const dir of opts.dirs) {
    let files: string[];
    try {
      files = await sigmaFiles(dir);
    } catch (err) {
      problems.push(`${dir}: ${(err as Error).message}`);
      continue;
    }
    for (const file of files) {
      try {
        rules.push(parseSigmaRule(await readFile(file, "utf8"), file));
      } catch (err) {
        problems.push((err as Error).message);
      }
    }
  }
  const seen = new Map<string, string>();
  for (const r of rules) {
    const first = seen.get(r.id);
    if (first !== undefined) problems.push(`${r.source}: rule id "${r.id}" is already used by ${first}`);
    else seen.set(r.id, r.source);
  }
  const result = opts.config ? applyConfig(rules, opts.config, problems) : rules;
  if (problems.length > 0) {
    throw new DetectError("rule", `rules rejected:\n  ${problems.join("\n  ")}`);
  }
  return result;
}

/** Every .yml/.yaml file under dir, depth first, in name order so loads are reproducible. */
async function sigmaFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) files.push(...(await sigmaFiles(path)));
    else if (e.isFile() && /\.ya?ml$/i.test(e.name)) files.push(path);
  }
  return files;
}

function applyConfig(rules: Rule[], config: RulesConfig, problems: string[]): Rule[] {
  const byId = new Map(rules.map((r) => [r.id, r]));
  for (const [id, s] of Object.entries(config.rules)) {
    const rule = byId.get(id);
    if (!rule) {
      problems.push(`rules config: rules.${id}: no such rule`);
      continue;
    }
    if ((s.threshold !== undefined || s.windowMs !== undefined) && !rule.window) {
      problems.push(`rules config: rules.${id}: threshold and window apply only to windowed rules`);
    }
  }
  return rules
    .filter((r) => config.rules[r.id]?.disabled !== true)
    .map((r) => {
      const s = config.rules[r.id];
      const window = r.window && {
        ...r.window,
        threshold: s?.threshold ?? r.window.threshold,
        windowMs: s?.windowMs ?? r.window.windowMs,
      };
      return { ...r, window, allow: mergeAllow(mergeAllow(r.allow, config.allow), s?.allow) };
    });
}

function mergeAllow(a: AllowList | undefined, b: AllowList | undefined): AllowList | undefined {
  if (!a && !b) return undefined;
  return {
    users: [...(a?.users ?? []), ...(b?.users ?? [])],
    groups: [...(a?.groups ?? []), ...(b?.groups ?? [])],
    namespaces: [...(a?.namespaces ?? []), ...(b?.namespaces ?? [])],
  };
}
