// Sigma's condition language without aggregations: selection names, and/or/not, parentheses,
// `1 of x*` / `any of x*` / `all of x*`, `them`. Precedence: not > and > or.
import { globMatcher } from "../glob.js";
import { allOf, anyOf, negate, type Compiled } from "./compiled.js";
import { SigmaSyntaxError } from "./value-matcher.js";

type Token = { text: string; pos: number };

export function compileCondition(condition: string, selections: Map<string, Compiled>): Compiled {
  if (/[|]/.test(condition)) {
    throw new SigmaSyntaxError(`condition "${condition}": aggregations ("| count" …) are not supported`);
  }
  if (/(^|\s)near(\s|$)/i.test(condition)) {
    throw new SigmaSyntaxError(`condition "${condition}": near (temporal correlation) is not supported`);
  }
  const tokens = tokenize(condition);
  let at = 0;
  const peek = (): string | undefined => tokens[at]?.text.toLowerCase();
  const fail = (what: string): never => {
    const where = tokens[at] ? `at "${tokens[at]?.text}"` : "at end";
    throw new SigmaSyntaxError(`condition "${condition}": ${what} ${where}`);
  };

  const parseOr = (): Compiled => {
    const items = [parseAnd()];
    while (peek() === "or") {
      at++;
      items.push(parseAnd());
    }
    return anyOf(items);
  };
  const parseAnd = (): Compiled => {
    const items = [parseNot()];
    while (peek() === "and") {
      at++;
      items.push(parseNot());
    }
    return allOf(items);
  };
  const parseNot = (): Compiled => {
    if (peek() === "not") {
      at++;
      return negate(parseNot());
    }
    return parseAtom();
  };
  const parseAtom = (): Compiled => {
    const tok = peek();
    if (tok === undefined) return fail("expected a selection");
    if (tok === "(") {
      at++;
      const inner = parseOr();
      if (peek() !== ")") fail('expected ")"');
      at++;
      return inner;
    }
    if (tok === "1" || tok === "any" || tok === "all") {
      if (tokens[at + 1]?.text.toLowerCase() === "of") {
        at += 2;
        const target = tokens[at];
        if (!target || target.text === "(" || target.text === ")")
          return fail("expected a selection pattern");
        at++;
        const chosen = pickSelections(condition, target.text, selections);
        return tok === "all" ? allOf(chosen) : anyOf(chosen);
      }
    }
    if (tokens[at + 1]?.text.toLowerCase() === "of")
      return fail('only "1 of", "any of" and "all of" are supported');
    if (["and", "or", ")", "of"].includes(tok)) return fail("unexpected token");
    const name = (tokens[at] as Token).text;
    const sel = selections.get(name);
    if (!sel) return fail(`unknown selection "${name}"`);
    at++;
    return sel;
  };

  const result = parseOr();
  if (at !== tokens.length) fail("unexpected token");
  return result;
}

function pickSelections(condition: string, pattern: string, selections: Map<string, Compiled>): Compiled[] {
  // `them` means every selection except the underscore-prefixed helpers, as Sigma defines it.
  const names =
    pattern === "them"
      ? [...selections.keys()].filter((n) => !n.startsWith("_"))
      : [...selections.keys()].filter(globMatcher(pattern));
  if (names.length === 0) {
    throw new SigmaSyntaxError(`condition "${condition}": "${pattern}" matches no selection`);
  }
  return names.map((n) => selections.get(n) as Compiled);
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*([()]|[^\s()]+)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    tokens.push({ text: m[1] as string, pos: m.index });
  }
  if (tokens.length === 0) throw new SigmaSyntaxError("condition is empty");
  return tokens;
}
