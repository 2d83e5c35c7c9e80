// The app: sign-in, then the pages under a header that always says how far what is shown can
// be trusted (checkpoint verified against a pinned key, or why not).
import { useEffect, useState } from "preact/hooks";
import { getJson, onLoggedOut, postJson } from "./api.js";
import { Link } from "./components/Link.js";
import { EventDetail } from "./pages/EventDetail.js";
import { History } from "./pages/History.js";
import { Integrity } from "./pages/Integrity.js";
import { Login } from "./pages/Login.js";
import { People } from "./pages/People.js";
import { Records } from "./pages/Records.js";
import { Timeline } from "./pages/Timeline.js";
import { useLocation, type Location } from "./router.js";
import { establishTrust, useTrust, type LogInfo, type Trust } from "./trust/state.js";

interface SessionInfo {
  authenticated: boolean;
  identity?: { name: string; via: string };
}

const NAV: [string, string][] = [
  ["/", "Timeline"],
  ["/people", "People"],
  ["/history", "Object history"],
  ["/alerts", "Alerts"],
  ["/decisions", "Decisions"],
  ["/integrity", "Integrity"],
];

function TrustBadge({ trust }: { trust: Trust }) {
  const size = trust.checkpoint?.size.toLocaleString();
  if (trust.state === "checking") return <span class="badge">checking the log…</span>;
  if (trust.state === "failed")
    return (
      <Link to="/integrity" class="badge bad">
        ✗ checkpoint refused
      </Link>
    );
  return (
    <Link to="/integrity" class={trust.pinned ? "badge ok" : "badge warn"} title={`tree size ${size}`}>
      {trust.pinned ? "✓" : "⚠"} log verified at {size} entries{trust.pinned ? "" : " (key not pinned)"}
    </Link>
  );
}

function TrustBanner({ trust }: { trust: Trust }) {
  if (trust.state === "failed")
    return (
      <div class="banner bad" role="alert" data-testid="trust-banner">
        <strong>Not verified.</strong> {trust.error} Nothing on these pages is shown as verified until this is
        resolved (see <Link to="/integrity">Integrity</Link>).
      </div>
    );
  if (trust.keyChanged)
    return (
      <div class="banner bad" role="alert" data-testid="trust-banner">
        <strong>The server presents a different verifier key than the one you pinned.</strong> Checks still
        use your pinned key. If the log's key was rotated on purpose, pin the new one from your records on the{" "}
        <Link to="/integrity">Integrity</Link> page.
      </div>
    );
  if (trust.state === "verified" && trust.pinned === undefined)
    return (
      <div class="banner warn" data-testid="trust-banner">
        <strong>No verifier key pinned.</strong> Checkpoints are checked against the key this server offers,
        which proves nothing if the server itself is compromised. <Link to="/integrity">Pin the key</Link> you
        got from your records.
      </div>
    );
  return null;
}

function Page({ loc, trust }: { loc: Location; trust: Trust }) {
  const event = /^\/event\/(\d+)$/.exec(loc.path);
  if (event) return <EventDetail index={Number(event[1])} trust={trust} />;
  switch (loc.path) {
    case "/":
      return <Timeline loc={loc} trust={trust} />;
    case "/people":
      return <People loc={loc} trust={trust} />;
    case "/history":
      return <History loc={loc} trust={trust} />;
    case "/alerts":
      return <Records kind="Alert" trust={trust} />;
    case "/decisions":
      return <Records kind="AdmissionDecision" trust={trust} />;
    case "/integrity":
      return <Integrity trust={trust} />;
    default:
      return (
        <p>
          No such page. <Link to="/">Back to the timeline</Link>
        </p>
      );
  }
}

function Shell({ session, onLogout }: { session: SessionInfo; onLogout: () => void }) {
  const loc = useLocation();
  const trust = useTrust();
  const [newer, setNewer] = useState<number | undefined>();
  useEffect(() => {
    void establishTrust();
  }, []);
  useEffect(() => {
    const timer = setInterval(() => {
      void getJson<LogInfo>("/ui/api/log").then(
        (info) => {
          const m = /^[^\n]*\n(\d+)\n/.exec(info.checkpoint);
          const size = m ? Number(m[1]) : undefined;
          setNewer(
            size !== undefined && trust.checkpoint !== undefined && size > trust.checkpoint.size
              ? size
              : undefined,
          );
        },
        () => undefined,
      );
    }, 30_000);
    return () => clearInterval(timer);
  }, [trust]);
  return (
    <>
      <a href="#main" class="skip">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">kubetrail</span>
        <nav aria-label="Pages">
          <ul>
            {NAV.map(([to, label]) => (
              <li key={to}>
                <Link to={to} class={loc.path === to ? "current" : ""}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <TrustBadge trust={trust} />
        {newer !== undefined && (
          <button
            type="button"
            class="small"
            onClick={() => void establishTrust().then(() => setNewer(undefined))}
          >
            {(newer - (trust.checkpoint?.size ?? 0)).toLocaleString()} new entries — refresh
          </button>
        )}
        <span class="who" title={session.identity?.via}>
          {session.identity?.name}
        </span>
        <button
          type="button"
          class="link"
          onClick={() => void postJson("/ui/api/logout", {}).finally(onLogout)}
        >
          Sign out
        </button>
      </header>
      <TrustBanner trust={trust} />
      <main id="main" tabIndex={-1}>
        <Page loc={loc} trust={trust} />
      </main>
    </>
  );
}

export function App() {
  const [session, setSession] = useState<SessionInfo | undefined>();
  const check = (): void => {
    getJson<SessionInfo>("/ui/api/session").then(setSession, () => setSession({ authenticated: false }));
  };
  useEffect(() => {
    check();
    return onLoggedOut(() => setSession({ authenticated: false }));
  }, []);
  if (session === undefined) return <p class="muted">Loading…</p>;
  if (!session.authenticated) return <Login onLogin={check} />;
  return <Shell session={session} onLogout={() => setSession({ authenticated: false })} />;
}
