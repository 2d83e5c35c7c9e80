// A small history router: pages live under /ui/, their state (the filter) in the query string,
// so any view can be bookmarked or shared as a link.
import { useEffect, useState } from "preact/hooks";

export const BASE = "/ui";

export interface Location {
  /** Path below /ui, e.g. "/event/12". */
  path: string;
  params: URLSearchParams;
}

function current(): Location {
  const path = window.location.pathname.startsWith(BASE)
    ? window.location.pathname.slice(BASE.length) || "/"
    : "/";
  return { path, params: new URLSearchParams(window.location.search) };
}

const listeners = new Set<() => void>();
window.addEventListener("popstate", () => listeners.forEach((l) => l()));

/** Goes to a page of the app (`to` below /ui, with its query string). */
export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const url = BASE + to;
  if (url === window.location.pathname + window.location.search) return;
  if (opts.replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
  listeners.forEach((l) => l());
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = (): void => setLoc(current());
    listeners.add(update);
    // A child's effect may have navigated before this listener existed.
    update();
    return () => void listeners.delete(update);
  }, []);
  return loc;
}

/** An href for a page of the app. */
export function href(to: string): string {
  return BASE + to;
}

/** Follows an app link without reloading, unless the user asked for a new tab or window. */
export function followLink(e: MouseEvent, to: string): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(to);
}
