// Records real kube-apiserver audit output for the storage benches: a kube-apiserver v1.20.2
// (test/kube, built by scripts/kube-apiserver.sh) with kubetrail's starting audit policy
// (what `kubetrail apiserver-config` writes), driven by kubectl as several people would use a
// cluster — an administrator setting up namespaces, workloads, RBAC, secrets; developers
// reading and changing their namespaces; a CI robot deploying; someone poking where they may
// not — and the apiserver's own traffic. The log backend's lines are written, gzipped, to
// bench/fixtures/real-apiserver.jsonl.gz, exactly as the apiserver wrote them.
//
//   npm run bench:build && node build/bench/capture-real.js [--rounds=N]
import { existsSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { startingAuditPolicy } from "../src/audit/policy/starting-policy.js";
import { request } from "../test/fixtures/audit/request.js";
import { startCluster, type Cluster } from "../test/kube/cluster.js";
import { intOption, log, parseBenchArgs, runIfMain } from "./harness.js";
import { benchFixture, repoRoot } from "./lib/paths.js";
import { makeRng, type Rng } from "./gen/rng.js";

export const REAL_FIXTURE = "real-apiserver.jsonl.gz";

const TEAMS = ["payments", "search", "checkout", "platform", "data"];
const NODES = ["node-a", "node-b", "node-c"];
const KUBELET_UA = "kubelet/v1.20.2 (linux/amd64) kubernetes/faecb19";
const nodeToken = (node: string) => `${node}-token-0123456789abcdef`;

/** What a kubelet reports about its node: conditions, addresses, capacity and cached images. */
function nodeStatus(node: string, round: number, rng: Rng): unknown {
  const now = new Date(Date.UTC(2026, 11, 6, 5, 0, round * 10)).toISOString().replace(".000", "");
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    lastHeartbeatTime: now,
    lastTransitionTime: "2026-12-06T04:00:00Z",
    reason,
    message,
  });
  return {
    status: {
      conditions: [
        condition(
          "MemoryPressure",
          "False",
          "KubeletHasSufficientMemory",
          "kubelet has sufficient memory available",
        ),
        condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        condition("Ready", "True", "KubeletReady", "kubelet is posting ready status. AppArmor enabled"),
      ],
      addresses: [
        { type: "InternalIP", address: `10.0.1.${NODES.indexOf(node) + 10}` },
        { type: "Hostname", address: node },
      ],
      capacity: { cpu: "8", "ephemeral-storage": "101445540Ki", memory: "32863484Ki", pods: "110" },
      allocatable: { cpu: "7910m", "ephemeral-storage": "93492209510", memory: "31746812Ki", pods: "110" },
      images: TEAMS.flatMap((t, i) => [
        {
          names: [
            `registry.example.com/${t}/api@sha256:${rng.hex(64)}`,
            `registry.example.com/${t}/api:1.${round}.${i}`,
          ],
          sizeBytes: 40_000_000 + rng.int(90_000_000),
        },
      ]).concat([
        { names: ["k8s.gcr.io/pause:3.2"], sizeBytes: 682696 },
        { names: ["k8s.gcr.io/kube-proxy:v1.20.2"], sizeBytes: 118396107 },
        { names: ["quay.io/coreos/flannel:v0.13.0"], sizeBytes: 57156911 },
      ]),
    },
  };
}

function deployment(ns: string, name: string, image: string, replicas: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${ns}
  labels: {app: ${name}, team: ${ns}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers:
        - name: ${name}
          image: ${image}
          ports: [{containerPort: 8080}]
          env: [{name: LOG_LEVEL, value: info}, {name: TEAM, value: ${ns}}]
          resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 256Mi}}
`;
}

async function must(c: Cluster, args: string[], kubeconfig?: string): Promise<void> {
  const r = await c.kubectl(args, kubeconfig ? { kubeconfig } : {});
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
}

/** Runs `jobs` with at most `n` at once. */
async function pool(n: number, jobs: (() => Promise<unknown>)[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) await jobs[next++]!();
    }),
  );
}

function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

export async function main(argv: string[]): Promise<void> {
  const args = parseBenchArgs(argv);
  const rounds = intOption(args, "rounds", 12);
  const rng = makeRng(24);
  // test/kube finds scripts/kube-apiserver.sh beside itself; compiled, it runs from build/.
  const scripts = path.join(repoRoot, "build", "scripts");
  if (!existsSync(scripts)) symlinkSync(path.join(repoRoot, "scripts"), scripts);
  const cluster = await startCluster({
    audit: { policy: startingAuditPolicy({ major: 1, minor: 20 }), log: true },
    tokens: [
      { token: "ci-robot-token-0123456789", user: "ci-robot", groups: ["ci"] },
      ...NODES.map((n) => ({ token: nodeToken(n), user: `system:node:${n}`, groups: ["system:nodes"] })),
    ],
  });
  const port = Number(new URL(cluster.url).port);
  /** A request as a kubelet would make it, with the node's token. */
  const asNode = (
    node: string,
    method: string,
    pathname: string,
    body?: unknown,
    type = "application/json",
  ) =>
    request(port, {
      method,
      path: pathname,
      ca: cluster.caPem,
      headers: {
        Authorization: `Bearer ${nodeToken(node)}`,
        "User-Agent": KUBELET_UA,
        ...(body === undefined ? {} : { "Content-Type": type }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      timeoutMs: 60_000,
    });
  /** One kubelet heartbeat: renew the node's lease, read its node, patch its status. */
  const heartbeat = async (node: string, round: number) => {
    const lease = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${node}`;
    const got = await asNode(node, "GET", lease);
    const current = JSON.parse(got.body) as { metadata?: { resourceVersion?: string } };
    await asNode(node, "PUT", lease, {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name: node,
        namespace: "kube-node-lease",
        resourceVersion: current.metadata?.resourceVersion,
      },
      spec: {
        holderIdentity: node,
        leaseDurationSeconds: 40,
        renewTime: new Date(Date.UTC(2026, 11, 6, 5, 0, round * 10)).toISOString().replace("Z", "000Z"),
      },
    });
    await asNode(node, "GET", `/api/v1/nodes/${node}?resourceVersion=0&timeout=10s`);
    await asNode(
      node,
      "PATCH",
      `/api/v1/nodes/${node}/status`,
      nodeStatus(node, round, rng),
      "application/strategic-merge-patch+json",
    );
  };
  try {
    log("registering nodes");
    await must(cluster, [
      "create",
      "clusterrolebinding",
      "nodes",
      "--clusterrole=system:node",
      "--group=system:nodes",
    ]);
    for (const node of NODES) {
      await cluster.apply(
        `apiVersion: v1\nkind: Node\nmetadata:\n  name: ${node}\n  labels: {kubernetes.io/hostname: ${node}, kubernetes.io/os: linux}\n---\n` +
          `apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: ${node}, namespace: kube-node-lease}\nspec: {holderIdentity: ${node}, leaseDurationSeconds: 40}\n`,
      );
    }
    log("setting up teams");
    for (const team of TEAMS) {
      await must(cluster, ["create", "namespace", team]);
      await must(cluster, ["-n", team, "create", "serviceaccount", `${team}-app`]);
      await must(cluster, [
        "-n",
        team,
        "create",
        "role",
        "developer",
        "--verb=get,list,watch,create,update,patch,delete",
        "--resource=deployments.apps,configmaps,services,pods",
      ]);
      await must(cluster, [
        "-n",
        team,
        "create",
        "rolebinding",
        "developers",
        "--role=developer",
        `--group=${team}-devs`,
      ]);
    }
    await must(cluster, [
      "create",
      "clusterrole",
      "deployer",
      "--verb=get,list,create,update,patch",
      "--resource=deployments.apps,configmaps,services",
    ]);
    await must(cluster, [
      "create",
      "clusterrolebinding",
      "ci-deployer",
      "--clusterrole=deployer",
      "--group=ci",
    ]);
    const devs = await Promise.all(
      ["alice", "bob", "carol", "dave", "erin"].map(async (u, i) => ({
        user: u,
        team: TEAMS[i % TEAMS.length]!,
        kc: await cluster.kubeconfigForUser(u, [`${TEAMS[i % TEAMS.length]}-devs`, "developers"]),
      })),
    );
    const ci = cluster.kubeconfigForToken("ci-robot-token-0123456789", "ci");
    for (const d of devs) await cluster.waitUntilAllowed(d.kc, "list", "configmaps", d.team);

    for (let round = 0; round < rounds; round++) {
      log(`round ${round + 1} of ${rounds}: ${cluster.auditLog().length} events so far`);
      const jobs: (() => Promise<unknown>)[] = [];
      for (const team of TEAMS) {
        const app = `${team}-api`;
        const image = `registry.example.com/${team}/api:1.${round}.${rng.int(10)}`;
        // The CI robot deploys every round.
        jobs.push(() =>
          cluster.kubectl(["apply", "-f", "-"], {
            kubeconfig: ci,
            input: deployment(team, app, image, 1 + rng.int(4)),
          }),
        );
        jobs.push(() =>
          cluster.kubectl(
            [
              "-n",
              team,
              "create",
              "configmap",
              `${app}-config-${round}`,
              `--from-literal=release=1.${round}`,
              `--from-literal=feature.flags=a,b,c`,
            ],
            { kubeconfig: ci },
          ),
        );
        // The administrator rotates a secret, reads around.
        jobs.push(() =>
          cluster.kubectl(
            [
              "-n",
              team,
              "create",
              "secret",
              "generic",
              `${team}-db-${round}`,
              `--from-literal=password=${rng.hex(16)}`,
            ],
            {},
          ),
        );
        jobs.push(() => cluster.kubectl(["-n", team, "get", "secrets"], {}));
        jobs.push(() => cluster.kubectl(["get", "namespaces"], {}));
      }
      for (const d of devs) {
        jobs.push(() =>
          cluster.kubectl(["-n", d.team, "get", "deployments,configmaps,services,pods"], {
            kubeconfig: d.kc,
          }),
        );
        jobs.push(() =>
          cluster.kubectl(["-n", d.team, "describe", "deployment", `${d.team}-api`], { kubeconfig: d.kc }),
        );
        jobs.push(() =>
          cluster.kubectl(
            [
              "-n",
              d.team,
              "patch",
              "deployment",
              `${d.team}-api`,
              "-p",
              `{"spec":{"replicas":${1 + rng.int(5)}}}`,
            ],
            {
              kubeconfig: d.kc,
            },
          ),
        );
        jobs.push(() =>
          cluster.kubectl(
            [
              "-n",
              d.team,
              "label",
              "configmap",
              `${d.team}-api-config-${round}`,
              `reviewed-by=${d.user}`,
              "--overwrite",
            ],
            {
              kubeconfig: d.kc,
            },
          ),
        );
        // Curiosity: other teams' namespaces and secrets are forbidden.
        const other = TEAMS[(TEAMS.indexOf(d.team) + 1 + rng.int(TEAMS.length - 1)) % TEAMS.length]!;
        jobs.push(() => cluster.kubectl(["-n", other, "get", "secrets"], { kubeconfig: d.kc }));
        jobs.push(() => cluster.kubectl(["-n", d.team, "get", "secrets"], { kubeconfig: d.kc }));
        jobs.push(() => cluster.kubectl(["get", "nodes"], { kubeconfig: d.kc }));
      }
      // Clean-up of an old round's objects.
      if (round >= 3) {
        for (const team of TEAMS) {
          jobs.push(() =>
            cluster.kubectl(["-n", team, "delete", "configmap", `${team}-api-config-${round - 3}`], {}),
          );
          jobs.push(() => cluster.kubectl(["-n", team, "delete", "secret", `${team}-db-${round - 3}`], {}));
        }
      }
      // Kubelets report every 10 s; a round of kubectl here takes about 20.
      for (const node of NODES)
        for (let beat = 0; beat < 2; beat++)
          jobs.push(() =>
            // A kubelet whose request times out tries again at its next beat.
            heartbeat(node, round * 2 + beat).catch((err: unknown) =>
              log(`${node}: ${(err as Error).message}`),
            ),
          );
      await pool(3, shuffle(rng, jobs));
    }
    // The batch backend has no say here: the log backend writes as it goes.
    const text = readFileSync(cluster.auditLogPath!, "utf8");
    const whole = text.slice(0, text.lastIndexOf("\n") + 1);
    const out = benchFixture(REAL_FIXTURE);
    writeFileSync(out, gzipSync(Buffer.from(whole), { level: 9 }));
    const lines = whole.split("\n").length - 1;
    log(`wrote ${lines} events (${whole.length} bytes) to ${out}`);
  } finally {
    await cluster.stop();
  }
}

runIfMain(import.meta.url, main);
