// Matches a request to a Route by method and path pattern (literal segments, `:name`, trailing `*`).
import type { Route } from "./route.js";

interface Compiled {
  route: Route;
  segments: string[];
  rest: boolean;
}

export interface Match {
  route: Route;
  params: Record<string, string>;
}

export class Router {
  private readonly compiled: Compiled[];

  constructor(routes: readonly Route[]) {
    this.compiled = routes.map((route) => {
      const segments = route.pattern.split("/").filter((s) => s !== "");
      const rest = segments[segments.length - 1] === "*";
      if (rest) segments.pop();
      return { route, segments, rest };
    });
  }

  /** Without a match, `pathExists` tells 405 (path served under another method) from 404. */
  match(method: string, pathname: string): Match | { pathExists: boolean } {
    let pathExists = false;
    const parts = pathname.split("/").filter((s) => s !== "");
    for (const c of this.compiled) {
      const params = matchSegments(c, parts);
      if (params === undefined) continue;
      pathExists = true;
      if (c.route.method === method || (method === "HEAD" && c.route.method === "GET"))
        return { route: c.route, params };
    }
    return { pathExists };
  }
}

function matchSegments(c: Compiled, parts: string[]): Record<string, string> | undefined {
  if (c.rest ? parts.length < c.segments.length : parts.length !== c.segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < c.segments.length; i++) {
    const seg = c.segments[i]!;
    let part: string;
    try {
      part = decodeURIComponent(parts[i]!);
    } catch {
      return undefined;
    }
    if (seg.startsWith(":")) params[seg.slice(1)] = part;
    else if (seg !== part) return undefined;
  }
  if (c.rest) params["*"] = parts.slice(c.segments.length).join("/");
  return params;
}
