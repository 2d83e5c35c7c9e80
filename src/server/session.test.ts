import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import {
  LoginThrottle,
  parseCookies,
  sameOrigin,
  SESSION_COOKIE,
  sessionAuthenticator,
  sessionCookie,
  SessionStore,
} from "./session.js";

function req(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

describe("SessionStore", () => {
  it("keeps only the hash of each id and ends sessions on idle, absolute age and logout", () => {
    let now = 1_000_000;
    const store = new SessionStore({ idleMs: 1000, maxAgeMs: 5000, now: () => now });
    const { id } = store.create({ name: "read token abc", via: "read-token", scopes: ["read"] });
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Nothing the store holds contains the id itself.
    expect(JSON.stringify([...(store as unknown as { byHash: Map<string, unknown> }).byHash])).not.toContain(
      id,
    );
    now += 900;
    expect(store.touch(id)?.identity.name).toBe("read token abc");
    now += 900; // active: the idle clock restarted at the last touch
    expect(store.touch(id)).toBeDefined();
    now += 1000; // idle too long
    expect(store.touch(id)).toBeUndefined();

    const second = store.create({ name: "b", via: "read-token", scopes: ["read"] }).id;
    for (let i = 0; i < 6; i++) {
      now += 900;
      if (i < 5) expect(store.touch(second)).toBeDefined();
    }
    expect(store.touch(second)).toBeUndefined(); // past its absolute end, however active

    const third = store.create({ name: "c", via: "read-token", scopes: ["read"] }).id;
    store.end(third);
    expect(store.touch(third)).toBeUndefined();
    expect(store.touch("x".repeat(43))).toBeUndefined();
    expect(store.touch("not an id")).toBeUndefined();
  });

  it("stays within its bound by dropping the session closest to its end", () => {
    let now = 0;
    const store = new SessionStore({ maxSessions: 3, now: () => now });
    const ids = [0, 1, 2].map((i) => {
      now += 10;
      return store.create({ name: `s${i}`, via: "t", scopes: ["read"] }).id;
    });
    now += 10;
    store.touch(ids[0]!);
    store.create({ name: "s3", via: "t", scopes: ["read"] });
    expect(store.size).toBe(3);
    expect(store.touch(ids[1]!)).toBeUndefined();
    expect(store.touch(ids[0]!)).toBeDefined();
  });

  it("finds the session named by the request's cookie, among other cookies", () => {
    const store = new SessionStore();
    const { id } = store.create({ name: "a", via: "t", scopes: ["read"] });
    expect(store.fromRequest(req({ cookie: `theme=dark; ${SESSION_COOKIE}=${id}; x=1` }))?.id).toBe(id);
    expect(store.fromRequest(req({ cookie: `${SESSION_COOKIE}=bogus` }))).toBeUndefined();
    expect(store.fromRequest(req({}))).toBeUndefined();
    expect(parseCookies("a=1; a=2;b=3").get("a")).toEqual(["1", "2"]);
  });
});

describe("cookies and requests", () => {
  it("reads a session as the identity that signed in, on GET and HEAD only", async () => {
    const store = new SessionStore();
    const { id } = store.create({
      name: "system:serviceaccount:team-a:auditor",
      via: "kube-token",
      scopes: ["read"],
      groups: ["system:serviceaccounts", "system:authenticated"],
      uid: "4f1c",
      extra: { "authentication.kubernetes.io/pod-name": ["web-0"] },
    });
    const authenticate = sessionAuthenticator(store);
    const cookie = { cookie: `${SESSION_COOKIE}=${id}` };
    // The uid and extra TokenReview returned go on to SubjectAccessReview with the user and groups.
    expect(await authenticate({ method: "GET", headers: cookie } as unknown as IncomingMessage)).toEqual({
      kind: "identity",
      identity: {
        user: "system:serviceaccount:team-a:auditor",
        groups: ["system:serviceaccounts", "system:authenticated"],
        uid: "4f1c",
        extra: { "authentication.kubernetes.io/pod-name": ["web-0"] },
        method: "kube-token",
      },
    });
    expect(await authenticate({ method: "POST", headers: cookie } as unknown as IncomingMessage)).toEqual({
      kind: "none",
    });
    expect(await authenticate({ method: "GET", headers: {} } as unknown as IncomingMessage)).toEqual({
      kind: "none",
    });
  });

  it("sets the session cookie HttpOnly, Secure, SameSite=Strict, host-only", () => {
    const c = sessionCookie("abc", 3_600_000);
    expect(c).toBe(`${SESSION_COOKIE}=abc; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=3600`);
    expect(SESSION_COOKIE.startsWith("__Host-")).toBe(true);
  });

  it("accepts only same-origin state changes", () => {
    expect(
      sameOrigin(req({ host: "kt:8443", origin: "https://kt:8443", "sec-fetch-site": "same-origin" })),
    ).toBe(true);
    expect(sameOrigin(req({ host: "kt:8443", origin: "https://kt:8443" }))).toBe(true);
    expect(sameOrigin(req({ host: "kt:8443", origin: "https://evil.example" }))).toBe(false);
    expect(
      sameOrigin(req({ host: "kt:8443", origin: "https://kt:8443", "sec-fetch-site": "cross-site" })),
    ).toBe(false);
    expect(sameOrigin(req({ host: "kt:8443" }))).toBe(false);
    expect(sameOrigin(req({ host: "kt:8443", origin: "null" }))).toBe(false);
  });

  it("throttles an address after repeated failed logins, for a window", () => {
    let now = 0;
    const t = new LoginThrottle(3, 60_000, 2, () => now);
    for (let i = 0; i < 3; i++) t.failed("10.0.0.1");
    expect(t.retryAfterMs("10.0.0.1")).toBe(60_000);
    expect(t.retryAfterMs("10.0.0.2")).toBe(0);
    now += 60_000;
    expect(t.retryAfterMs("10.0.0.1")).toBe(0);
  });
});
