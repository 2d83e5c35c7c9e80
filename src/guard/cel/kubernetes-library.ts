// The Kubernetes CEL extension functions policies use, over @bufbuild/cel: the lists, regex,
// quantity, URL, IP and CIDR libraries of k8s.io/apiserver/pkg/cel/library, and cel-go's sets
// extension.
// The strings extension comes from @bufbuild/cel/ext. Each function is written from the
// Kubernetes documentation of its behaviour; anything else a policy calls is refused at load.
import {
  celEnv,
  celFunc,
  celList,
  celMethod,
  CelScalar,
  isCelList,
  isCelUint,
  listType,
  mapType,
  parse,
  plan,
  type CelFunc,
  type CelList,
  type CelValue,
} from "@bufbuild/cel";
import type { ReflectMessage } from "@bufbuild/protobuf/reflect";
import { RE2JS } from "re2js";
import {
  canonicalText,
  CIDR_TYPE,
  cidrValue,
  IP_TYPE,
  ipValue,
  KUBERNETES_TYPES,
  QUANTITY_TYPE,
  quantityText,
  quantityValue,
  URL_TYPE,
  urlText,
  urlValue,
} from "./object-types.js";
import {
  addQuantities,
  canonicalQuantity,
  compareQuantities,
  negateQuantity,
  parseQuantity,
  quantityAsFloat,
  quantityAsInt64,
  quantityFromCanonical,
  quantityOfInt,
  quantitySign,
  type Quantity,
} from "./quantity.js";
import {
  cidrContainsCidr,
  cidrContainsIp,
  cidrText,
  ipText,
  isGlobalUnicast,
  isLinkLocalMulticast,
  isLinkLocalUnicast,
  isLoopback,
  isUnspecified,
  maskedCidr,
  parseCidr,
  parseIp,
  type Cidr,
  type Ip,
} from "./ip.js";
import { parseUrl, queryValues, type ParsedUrl } from "./url.js";

const { BOOL, DYN, INT, STRING, DOUBLE } = CelScalar;
const LIST = listType(DYN);

// CEL's own == (heterogeneous numbers, lists, maps, messages), reused rather than rewritten.
const equalsPlan = plan(
  celEnv({ registry: KUBERNETES_TYPES, variables: { a: DYN, b: DYN } }),
  parse("a == b"),
);

function celEquals(a: CelValue, b: CelValue): boolean {
  return equalsPlan({ a, b }) === true;
}

/** Orders ints, uints, doubles (with each other), strings, bools; anything else is an error. */
function compareValues(a: CelValue, b: CelValue): number {
  const num = (v: CelValue): number | bigint | undefined =>
    typeof v === "bigint" || typeof v === "number" ? v : isCelUint(v) ? v.value : undefined;
  const x = num(a);
  const y = num(b);
  if (x !== undefined && y !== undefined) return x < y ? -1 : x > y ? 1 : 0;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  throw new Error(`cannot compare ${typeName(a)} with ${typeName(b)}`);
}

function typeName(v: CelValue): string {
  if (v === null) return "null";
  if (typeof v === "bigint") return "int";
  if (typeof v === "number") return "double";
  if (isCelList(v)) return "list";
  return typeof v;
}

function extreme(list: CelList, sign: 1 | -1, name: string): CelValue {
  let best: CelValue | undefined;
  for (const v of list) if (best === undefined || compareValues(v, best) * sign > 0) best = v;
  if (best === undefined) throw new Error(`${name}() of an empty list`);
  return best;
}

const listFuncs: CelFunc[] = [
  celMethod("isSorted", LIST, [], BOOL, function () {
    let prev: CelValue | undefined;
    for (const v of this) {
      if (prev !== undefined && compareValues(prev, v) > 0) return false;
      prev = v;
    }
    return true;
  }),
  celMethod("sum", LIST, [], DYN, function () {
    const values = [...this];
    if (values.every((v) => typeof v === "bigint")) return values.reduce((a, b) => a + b, 0n);
    if (values.every((v) => typeof v === "number")) return values.reduce((a, b) => a + b, 0);
    throw new Error("sum() needs a list of ints or a list of doubles");
  }),
  celMethod("min", LIST, [], DYN, function () {
    return extreme(this, -1, "min");
  }),
  celMethod("max", LIST, [], DYN, function () {
    return extreme(this, 1, "max");
  }),
  celMethod("indexOf", LIST, [DYN], INT, function (x) {
    let i = 0;
    for (const v of this) {
      if (celEquals(v, x)) return BigInt(i);
      i++;
    }
    return -1n;
  }),
  celMethod("lastIndexOf", LIST, [DYN], INT, function (x) {
    let found = -1;
    let i = 0;
    for (const v of this) {
      if (celEquals(v, x)) found = i;
      i++;
    }
    return BigInt(found);
  }),
  // cel-go's lists extension, which Kubernetes also enables.
  celMethod("slice", LIST, [INT, INT], LIST, function (start, end) {
    if (start < 0n || end < start || end > BigInt(this.size))
      throw new Error(`slice(${start}, ${end}) out of range for a list of ${this.size}`);
    return [...this].slice(Number(start), Number(end));
  }),
  celMethod("flatten", LIST, [], LIST, function () {
    return [...this].flatMap((v) => (isCelList(v) ? [...v] : [v]));
  }),
  celMethod("distinct", LIST, [], LIST, function () {
    const out: CelValue[] = [];
    for (const v of this) if (!out.some((o) => celEquals(o, v))) out.push(v);
    return out;
  }),
  celMethod("reverse", LIST, [], LIST, function () {
    return [...this].reverse();
  }),
];

const setFuncs: CelFunc[] = [
  celFunc("sets.contains", [LIST, LIST], BOOL, (a, b) =>
    [...b].every((x) => [...a].some((y) => celEquals(x, y))),
  ),
  celFunc(
    "sets.equivalent",
    [LIST, LIST],
    BOOL,
    (a, b) =>
      [...b].every((x) => [...a].some((y) => celEquals(x, y))) &&
      [...a].every((x) => [...b].some((y) => celEquals(x, y))),
  ),
  celFunc("sets.intersects", [LIST, LIST], BOOL, (a, b) =>
    [...a].some((x) => [...b].some((y) => celEquals(x, y))),
  ),
];

// RE2 semantics (linear time, whatever the input), as Kubernetes has; a pattern is compiled
// once and kept, since policies use a handful of constant patterns.
const compiled = new Map<string, RE2JS>();

/** Compiles an RE2 pattern; throws with RE2's reason when it is not one. */
export function compileRegex(pattern: string): RE2JS {
  let re = compiled.get(pattern);
  if (re === undefined) {
    re = RE2JS.compile(pattern);
    if (compiled.size >= 1000) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}

function findAll(s: string, pattern: string, limit: bigint): string[] {
  const out: string[] = [];
  if (limit === 0n) return out;
  const m = compileRegex(pattern).matcher(s);
  while (m.find()) {
    out.push(m.group() ?? "");
    if (limit > 0n && BigInt(out.length) >= limit) break;
  }
  return out;
}

const regexFuncs: CelFunc[] = [
  celMethod("find", STRING, [STRING], STRING, function (pattern) {
    return findAll(this, pattern, 1n)[0] ?? "";
  }),
  celMethod("findAll", STRING, [STRING], listType(STRING), function (pattern) {
    return findAll(this, pattern, -1n);
  }),
  celMethod("findAll", STRING, [STRING, INT], listType(STRING), function (pattern, limit) {
    return findAll(this, pattern, limit);
  }),
];

function quantityOf(text: string): Quantity {
  const q = parseQuantity(text);
  if (q === undefined)
    throw new Error(
      `quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': "${text}"`,
    );
  return q;
}

const q = (v: ReflectMessage): Quantity => quantityFromCanonical(quantityText(v));
const toValue = (x: Quantity): ReflectMessage => quantityValue(canonicalQuantity(x));

const quantityFuncs: CelFunc[] = [
  celFunc("quantity", [STRING], QUANTITY_TYPE, (s) => toValue(quantityOf(s))),
  celFunc("isQuantity", [STRING], BOOL, (s) => parseQuantity(s) !== undefined),
  celMethod("sign", QUANTITY_TYPE, [], INT, function () {
    return quantitySign(q(this));
  }),
  celMethod("isInteger", QUANTITY_TYPE, [], BOOL, function () {
    return quantityAsInt64(q(this)) !== undefined;
  }),
  celMethod("asInteger", QUANTITY_TYPE, [], INT, function () {
    const n = quantityAsInt64(q(this));
    if (n === undefined) throw new Error("cannot convert value to integer");
    return n;
  }),
  celMethod("asApproximateFloat", QUANTITY_TYPE, [], DOUBLE, function () {
    return quantityAsFloat(q(this));
  }),
  celMethod("add", QUANTITY_TYPE, [QUANTITY_TYPE], QUANTITY_TYPE, function (o) {
    return toValue(addQuantities(q(this), q(o)));
  }),
  celMethod("add", QUANTITY_TYPE, [INT], QUANTITY_TYPE, function (n) {
    return toValue(addQuantities(q(this), quantityOfInt(n)));
  }),
  celMethod("sub", QUANTITY_TYPE, [QUANTITY_TYPE], QUANTITY_TYPE, function (o) {
    return toValue(addQuantities(q(this), negateQuantity(q(o))));
  }),
  celMethod("sub", QUANTITY_TYPE, [INT], QUANTITY_TYPE, function (n) {
    return toValue(addQuantities(q(this), quantityOfInt(-n)));
  }),
  celMethod("isLessThan", QUANTITY_TYPE, [QUANTITY_TYPE], BOOL, function (o) {
    return compareQuantities(q(this), q(o)) < 0;
  }),
  celMethod("isGreaterThan", QUANTITY_TYPE, [QUANTITY_TYPE], BOOL, function (o) {
    return compareQuantities(q(this), q(o)) > 0;
  }),
  celMethod("compareTo", QUANTITY_TYPE, [QUANTITY_TYPE], INT, function (o) {
    return BigInt(compareQuantities(q(this), q(o)));
  }),
];

function urlOf(text: string): ParsedUrl {
  const u = parseUrl(text);
  if (u === undefined) throw new Error(`URL parse error during conversion from string: "${text}"`);
  return u;
}

const u = (v: ReflectMessage): ParsedUrl => urlOf(urlText(v));

const urlFuncs: CelFunc[] = [
  celFunc("url", [STRING], URL_TYPE, (s) => {
    urlOf(s);
    return urlValue(s);
  }),
  celFunc("isURL", [STRING], BOOL, (s) => parseUrl(s) !== undefined),
  celMethod("getScheme", URL_TYPE, [], STRING, function () {
    return u(this).scheme;
  }),
  celMethod("getHost", URL_TYPE, [], STRING, function () {
    return u(this).host;
  }),
  celMethod("getHostname", URL_TYPE, [], STRING, function () {
    return u(this).hostname;
  }),
  celMethod("getPort", URL_TYPE, [], STRING, function () {
    return u(this).port;
  }),
  celMethod("getEscapedPath", URL_TYPE, [], STRING, function () {
    return u(this).path;
  }),
  celMethod("getQuery", URL_TYPE, [], mapType(STRING, listType(STRING)), function () {
    return new Map([...queryValues(u(this).rawQuery)].map(([k, v]) => [k, celList(v)]));
  }),
];

function ipOf(text: string): Ip {
  const ip = parseIp(text);
  if (typeof ip === "string") throw new Error(ip);
  return ip;
}

function cidrOf(text: string): Cidr {
  const c = parseCidr(text);
  if (typeof c === "string") throw new Error(c);
  return c;
}

// A value holds its canonical spelling, which parses back without error.
const ipIn = (v: ReflectMessage): Ip => ipOf(canonicalText(v));
const cidrIn = (v: ReflectMessage): Cidr => cidrOf(canonicalText(v));
const toIp = (ip: Ip): ReflectMessage => ipValue(ipText(ip));
const toCidr = (c: Cidr): ReflectMessage => cidrValue(cidrText(c));
const ipTest = (name: string, test: (ip: Ip) => boolean): CelFunc =>
  celMethod(name, IP_TYPE, [], BOOL, function () {
    return test(ipIn(this));
  });

const ipFuncs: CelFunc[] = [
  celFunc("ip", [STRING], IP_TYPE, (s) => toIp(ipOf(s))),
  celFunc("isIP", [STRING], BOOL, (s) => typeof parseIp(s) !== "string"),
  celFunc("ip.isCanonical", [STRING], BOOL, (s) => ipText(ipOf(s)) === s),
  celMethod("family", IP_TYPE, [], INT, function () {
    return BigInt(ipIn(this).family);
  }),
  ipTest("isUnspecified", isUnspecified),
  ipTest("isLoopback", isLoopback),
  ipTest("isLinkLocalMulticast", isLinkLocalMulticast),
  ipTest("isLinkLocalUnicast", isLinkLocalUnicast),
  ipTest("isGlobalUnicast", isGlobalUnicast),
  celFunc("string", [IP_TYPE], STRING, (v) => canonicalText(v)),
];

const cidrFuncs: CelFunc[] = [
  celFunc("cidr", [STRING], CIDR_TYPE, (s) => toCidr(cidrOf(s))),
  celFunc("isCIDR", [STRING], BOOL, (s) => typeof parseCidr(s) !== "string"),
  celMethod("containsIP", CIDR_TYPE, [IP_TYPE], BOOL, function (ip) {
    return cidrContainsIp(cidrIn(this), ipIn(ip));
  }),
  celMethod("containsIP", CIDR_TYPE, [STRING], BOOL, function (ip) {
    return cidrContainsIp(cidrIn(this), ipOf(ip));
  }),
  celMethod("containsCIDR", CIDR_TYPE, [CIDR_TYPE], BOOL, function (other) {
    return cidrContainsCidr(cidrIn(this), cidrIn(other));
  }),
  celMethod("containsCIDR", CIDR_TYPE, [STRING], BOOL, function (other) {
    return cidrContainsCidr(cidrIn(this), cidrOf(other));
  }),
  celMethod("ip", CIDR_TYPE, [], IP_TYPE, function () {
    return toIp(cidrIn(this).ip);
  }),
  celMethod("masked", CIDR_TYPE, [], CIDR_TYPE, function () {
    return toCidr(maskedCidr(cidrIn(this)));
  }),
  celMethod("prefixLength", CIDR_TYPE, [], INT, function () {
    return BigInt(cidrIn(this).bits);
  }),
  celFunc("string", [CIDR_TYPE], STRING, (v) => canonicalText(v)),
];

/** Every Kubernetes extension function kubetrail evaluates (besides @bufbuild/cel/ext strings). */
export const KUBERNETES_FUNCS: readonly CelFunc[] = [
  ...listFuncs,
  ...setFuncs,
  ...regexFuncs,
  ...quantityFuncs,
  ...urlFuncs,
  ...ipFuncs,
  ...cidrFuncs,
];

/** For documentation and load-time messages: the library each supported name belongs to. */
export const SUPPORTED_LIBRARIES = {
  strings: [
    "charAt",
    "indexOf",
    "lastIndexOf",
    "lowerAscii",
    "upperAscii",
    "replace",
    "split",
    "substring",
    "trim",
    "join",
    "format",
    "strings.quote",
  ],
  lists: [
    "isSorted",
    "sum",
    "min",
    "max",
    "indexOf",
    "lastIndexOf",
    "slice",
    "flatten",
    "distinct",
    "reverse",
  ],
  sets: ["sets.contains", "sets.equivalent", "sets.intersects"],
  regex: ["matches", "find", "findAll"],
  quantity: [
    "quantity",
    "isQuantity",
    "sign",
    "isInteger",
    "asInteger",
    "asApproximateFloat",
    "add",
    "sub",
    "isLessThan",
    "isGreaterThan",
    "compareTo",
  ],
  url: ["url", "isURL", "getScheme", "getHost", "getHostname", "getPort", "getEscapedPath", "getQuery"],
  ip: [
    "ip",
    "isIP",
    "ip.isCanonical",
    "family",
    "isUnspecified",
    "isLoopback",
    "isLinkLocalMulticast",
    "isLinkLocalUnicast",
    "isGlobalUnicast",
    "string",
  ],
  cidr: ["cidr", "isCIDR", "containsIP", "containsCIDR", "ip", "masked", "prefixLength", "string"],
} as const;
