// C2SP tlog-tiles resource paths: tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>], with N
// written in zero-padded 3-digit groups, all but the last prefixed with "x".

import { TlogError } from "./errors.js";

/** Tile height: every tile spans 8 Merkle levels and holds up to 256 hashes. */
export const TILE_HEIGHT = 8;
/** Hashes (or entries) in a full tile or entry bundle. */
export const TILE_WIDTH = 2 ** TILE_HEIGHT;
/** C2SP tlog-tiles allows tile levels 0 to 63. */
export const MAX_TILE_LEVEL = 63;

/**
 * A hash tile: `width` consecutive hashes at Merkle level 8·level starting at hash number
 * 256·index. width is 1..256; 256 is a full tile, fewer is a partial tile.
 */
export interface Tile {
  level: number;
  index: number;
  width: number;
}

export type ParsedTilePath = { kind: "hash"; tile: Tile } | { kind: "entries"; index: number; width: number };

function badPath(path: string, why: string): TlogError {
  return new TlogError("bad-path", `malformed tile path ${JSON.stringify(path)}: ${why}`);
}

function checkIndexWidth(index: number, width: number, what: string): void {
  if (!Number.isSafeInteger(index) || index < 0)
    throw badPath(what, `tile index ${index} is not a non-negative integer`);
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) {
    throw badPath(what, `width ${width} is not between 1 and ${TILE_WIDTH}`);
  }
}

function indexAndWidthPath(index: number, width: number): string {
  let groups = String(index % 1000).padStart(3, "0");
  for (let n = Math.floor(index / 1000); n > 0; n = Math.floor(n / 1000)) {
    groups = `x${String(n % 1000).padStart(3, "0")}/${groups}`;
  }
  return width === TILE_WIDTH ? groups : `${groups}.p/${width}`;
}

/** The C2SP path of a hash tile, e.g. {level 0, index 1234067, width 8} → "tile/0/x001/x234/067.p/8". */
export function tilePath(tile: Tile): string {
  if (!Number.isInteger(tile.level) || tile.level < 0 || tile.level > MAX_TILE_LEVEL) {
    throw badPath(`tile/${tile.level}`, `level ${tile.level} is not between 0 and ${MAX_TILE_LEVEL}`);
  }
  checkIndexWidth(tile.index, tile.width, `tile/${tile.level}`);
  return `tile/${tile.level}/${indexAndWidthPath(tile.index, tile.width)}`;
}

/** The C2SP path of entry bundle `index` holding `width` entries (256 = full). */
export function entryBundlePath(index: number, width: number): string {
  checkIndexWidth(index, width, "tile/entries");
  return `tile/entries/${indexAndWidthPath(index, width)}`;
}

const LEVEL = /^(0|[1-9][0-9]?)$/;
const WIDTH = /^[1-9][0-9]{0,2}$/;

/**
 * Parses a C2SP hash tile or entry bundle path. Only the canonical spelling is accepted (the one
 * tilePath/entryBundlePath produce); anything else throws TlogError("bad-path").
 */
export function parseTilePath(path: string): ParsedTilePath {
  const parts = path.split("/");
  if (parts.length < 3 || parts[0] !== "tile")
    throw badPath(path, 'expected "tile/<L>/<N>" or "tile/entries/<N>"');
  let width = TILE_WIDTH;
  const last = parts.length - 1;
  const beforeLast = parts[last - 1] as string;
  if (beforeLast.endsWith(".p")) {
    const w = parts[last] as string;
    if (!WIDTH.test(w) || Number(w) >= TILE_WIDTH)
      throw badPath(path, `partial width "${w}" is not 1 to ${TILE_WIDTH - 1}`);
    width = Number(w);
    parts.splice(last - 1, 2, beforeLast.slice(0, -2));
  }
  const groups = parts.slice(2);
  if (groups.length === 0) throw badPath(path, "missing tile index");
  let index = 0;
  groups.forEach((g, i) => {
    const isLast = i === groups.length - 1;
    const digits = isLast ? g : g.startsWith("x") ? g.slice(1) : "";
    if (!/^[0-9]{3}$/.test(digits)) {
      throw badPath(path, isLast ? `"${g}" is not 3 digits` : `"${g}" is not "x" and 3 digits`);
    }
    index = index * 1000 + Number(digits);
  });
  if (!Number.isSafeInteger(index)) throw badPath(path, "tile index is too large");
  const level = parts[1] as string;
  let parsed: ParsedTilePath;
  if (level === "entries") {
    parsed = { kind: "entries", index, width };
  } else if (LEVEL.test(level) && Number(level) <= MAX_TILE_LEVEL) {
    parsed = { kind: "hash", tile: { level: Number(level), index, width } };
  } else {
    throw badPath(path, `level "${level}" is not "entries" or 0 to ${MAX_TILE_LEVEL}`);
  }
  const canonical =
    parsed.kind === "hash" ? tilePath(parsed.tile) : entryBundlePath(parsed.index, parsed.width);
  // Leading "x000" groups would name the same tile twice; only the shortest spelling is valid.
  if (canonical !== path) throw badPath(path, `not canonical (expected ${JSON.stringify(canonical)})`);
  return parsed;
}
