// What one user or service account did: their activity over time, their top verbs and
// resources, and the requests they were refused (403). Without a user: the most active ones.
import { useMemo } from "preact/hooks";
import { EventTable } from "../components/EventTable.js";
import { Facets } from "../components/Facets.js";
import { Histogram } from "../components/Histogram.js";
import { Link } from "../components/Link.js";
import { personLink } from "../event.js";
import { usePaged } from "../paged.js";
import { navigate, type Location } from "../router.js";
import { useStats } from "../stats.js";
import type { Trust } from "../trust/state.js";

export function People({ loc, trust }: { loc: Location; trust: Trust }) {
  const user = loc.params.get("user") ?? "";
  const since = loc.params.get("since") ?? "7d";
  const everyone = useMemo(() => (user === "" ? { since } : undefined), [user, since]);
  const mine = useMemo(() => (user === "" ? undefined : { user, since }), [user, since]);
  const forbidden = useMemo(() => (user === "" ? undefined : { user, since, code: "403" }), [user, since]);
  const top = useStats(everyone, trust, 30);
  const stats = useStats(mine, trust, 10);
  const refused = usePaged("/v1/entries", forbidden, trust, 20);
  const activity = usePaged("/v1/entries", mine, trust);

  if (user === "") {
    return (
      <div class="people">
        <h1>People</h1>
        <p class="muted">The most active users and service accounts in the last {since}.</p>
        <ul class="people-list" data-testid="people">
          {(top.stats?.facets["users"] ?? []).map((u) =>
            u.key === null ? null : (
              <li key={u.key}>
                <Link to={personLink(u.key)}>{u.key}</Link>{" "}
                <span class="muted">{u.count.toLocaleString()}</span>
              </li>
            ),
          )}
        </ul>
      </div>
    );
  }
  const refusedCount = stats.stats?.facets["codes"]?.find((c) => c.key === "403")?.count ?? 0;
  return (
    <div class="people">
      <h1>
        {user.startsWith("system:serviceaccount:") ? "Service account" : "User"}{" "}
        <span class="mono">{user}</span>
      </h1>
      <p>
        {stats.stats ? `${stats.stats.total.toLocaleString()} requests in the last ${since}` : "counting…"}
        {" · "}
        <Link to={`/?user=${encodeURIComponent(user)}&since=${since}`}>open in the timeline</Link>
      </p>
      <div class="timeline-body">
        <Facets
          facets={stats.stats?.facets}
          pairs={[["user", user]]}
          only={["verbs", "resources", "namespaces", "codes"]}
          onToggle={(name, value) =>
            navigate(
              `/?${new URLSearchParams([
                ["user", user],
                ["since", since],
                [name, value],
              ]).toString()}`,
            )
          }
        />
        <div class="timeline-main">
          <Histogram
            data={stats.stats?.histogram}
            onZoom={(a, b) =>
              navigate(
                `/?${new URLSearchParams([
                  ["user", user],
                  ["from", new Date(a / 1000).toISOString()],
                  ["to", new Date(b / 1000).toISOString()],
                ]).toString()}`,
              )
            }
          />
          <h2>Refused (403): {refusedCount.toLocaleString()}</h2>
          <EventTable paged={refused} trust={trust} caption={`Requests by ${user} refused with 403`} />
          <h2>All activity</h2>
          <EventTable paged={activity} trust={trust} caption={`Requests by ${user}, newest first`} />
        </div>
      </div>
    </div>
  );
}
