// Talking to kubetrail serve from the page: same-origin fetches carrying the session cookie,
// JSON answers, errors as ApiError with the server's own message. A 401 means the session ended.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

type Listener = () => void;
const loggedOut = new Set<Listener>();

/** Called when any request finds the session gone, so the app shows the login page. */
export function onLoggedOut(listener: Listener): () => void {
  loggedOut.add(listener);
  return () => loggedOut.delete(listener);
}

export type Params = Record<string, string | number | readonly string[] | undefined>;

export function query(params: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) q.append(k, String(x));
    else q.append(k, String(v));
  }
  const text = q.toString();
  return text === "" ? "" : `?${text}`;
}

async function failure(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: string };
    if (typeof body.error === "string") message = body.error;
  } catch {
    // not JSON: keep the status line
  }
  const retry = Number(res.headers.get("Retry-After"));
  return new ApiError(res.status, message, Number.isFinite(retry) && retry > 0 ? retry : undefined);
}

export async function getJson<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path + query(params), {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
    ...(signal ? { signal } : {}),
  });
  if (res.status === 401) for (const l of loggedOut) l();
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/** GET that waits out "still loading" answers (503 with Retry-After) a few times. */
export async function getJsonPatiently<T>(
  path: string,
  params: Params = {},
  signal?: AbortSignal,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await getJson<T>(path, params, signal);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 503 || attempt >= 30) throw err;
      await new Promise((r) => setTimeout(r, (err.retryAfterS ?? 1) * 1000));
    }
  }
}

export async function getText(path: string): Promise<string> {
  const res = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  if (!res.ok) throw await failure(res);
  return res.text();
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}
