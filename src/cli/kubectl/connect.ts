// `kubectl trail`'s connection: the kube context's user and apiserver, kubetrail found in the
// cluster (or given), and a remote source presenting the kubectl user's credential. A kubetrail
// client-config context named like the kube context may pin another key or CA.
import { readFileSync } from "node:fs";
import { clientConfigPath, loadClientConfig } from "../../client/client-config.js";
import { connectRemote, apiClient, type RemoteSettings } from "../../client/connect.js";
import { ClientError } from "../../client/errors.js";
import { remoteSource } from "../../client/remote-source.js";
import type { ReadSource } from "../../client/source.js";
import { JsonClient } from "../../http/json-client.js";
import { kubeCredential, type KubeCredential } from "../../kube/credentials.js";
import { fileDiscoveryCache, type DiscoveryCache } from "../../kube/discovery-cache.js";
import { discoverKubetrail, type Discovered } from "../../kube/discover.js";
import { loadKubeContext, type KubeContext } from "../../kube/kubeconfig.js";
import type { WitnessPolicy } from "../../verify/witness-policy.js";
import { witnessPolicyFromOptions } from "../output/witness-options.js";

export interface KubectlFlags {
  kubeconfig?: string;
  context?: string;
  kubetrailNamespace: string;
  server?: string;
  ca?: string;
  key?: string;
  witness?: string[];
  minWitnesses?: string;
}

export interface KubectlConnection {
  source: ReadSource;
  kube: KubeContext;
  settings: RemoteSettings;
  /** The witness policy of --witness/--min-witnesses (null without --witness). */
  witnesses: WitnessPolicy | null;
}

function readCa(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new ClientError(
      "config",
      `--ca ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}

/** Asks the cluster where kubetrail is; with --server, a cluster that does not say is no error. */
async function discover(
  kube: KubeContext,
  cred: KubeCredential,
  o: KubectlFlags,
): Promise<Discovered | undefined> {
  const api = new JsonClient({
    server: kube.server,
    ...(kube.caData === undefined ? {} : { ca: kube.caData }),
    ...(cred.certData === undefined ? {} : { cert: cred.certData, key: cred.keyData }),
    ...(cred.token === undefined ? {} : { token: cred.token }),
    insecure: kube.insecure,
  });
  try {
    return await discoverKubetrail(api, o.kubetrailNamespace);
  } catch (err) {
    if (o.server === undefined) throw err;
    return undefined;
  } finally {
    api.close();
  }
}

function open(
  kube: KubeContext,
  cred: KubeCredential,
  discovered: Discovered | undefined,
  o: KubectlFlags,
  opts: { keyRequired?: boolean },
  witnesses: WitnessPolicy | null,
): KubectlConnection {
  // The published key and CA are wanted even when --server names another URL (a port-forward).
  let found = discovered;
  if (o.server !== undefined)
    found = { ...found, server: o.server, origin: found ? `--server, ${found.origin}` : "--server" };
  if (found === undefined) throw new ClientError("config", "kubetrail not found");
  const file = clientConfigPath();
  const pinned = loadClientConfig(file).contexts.find((c) => c.name === kube.contextName);
  const settings: RemoteSettings = {
    server: found.server,
    ...(o.ca !== undefined
      ? { caData: readCa(o.ca) }
      : pinned?.certificateAuthority !== undefined
        ? { certificateAuthority: pinned.certificateAuthority }
        : found.caPem !== undefined
          ? { caData: found.caPem }
          : {}),
    ...(cred.token === undefined ? {} : { token: cred.token }),
    ...(cred.certData === undefined ? {} : { certData: cred.certData, keyData: cred.keyData }),
    ...((o.key ?? pinned?.verifierKey ?? found.verifierKey) === undefined
      ? {}
      : { verifierKey: (o.key ?? pinned?.verifierKey ?? found.verifierKey) as string }),
    origin: `kube context "${kube.contextName}" (${found.origin})`,
  };
  const source =
    opts.keyRequired === false
      ? remoteSource({ api: apiClient(settings), verifierKey: settings.verifierKey ?? "" })
      : connectRemote(settings, undefined, witnesses);
  return { source, kube, settings, witnesses };
}

/** Whether kubetrail still answers where the cache says, with the key it published then. */
async function stillThere(connection: KubectlConnection, remembered: Discovered): Promise<boolean> {
  try {
    const stated = await connection.source.verifierKey();
    return remembered.verifierKey === undefined || stated.verifierKey === remembered.verifierKey;
  } catch (err) {
    if (err instanceof ClientError) return false;
    throw err;
  }
}

export async function connectKubectl(
  o: KubectlFlags,
  opts: { keyRequired?: boolean; cache?: DiscoveryCache } = {},
): Promise<KubectlConnection> {
  // Checkpoints short of the witness quorum are refused, naming the missing witnesses.
  const witnesses = await witnessPolicyFromOptions(o);
  const kube = loadKubeContext({ kubeconfig: o.kubeconfig, context: o.context });
  const cred = await kubeCredential(kube);
  const cache = opts.cache ?? fileDiscoveryCache();
  const key = { apiserver: kube.server, context: kube.contextName, namespace: o.kubetrailNamespace };
  const remembered = cache.get(key);
  if (remembered !== undefined) {
    // One request on the connection the command uses anyway: a moved server, a new CA or a
    // rotated key sends us back to the cluster rather than failing on a stale answer.
    const connection = open(kube, cred, remembered, o, opts, witnesses);
    if (await stillThere(connection, remembered)) return connection;
    await connection.source.close();
    cache.drop(key);
  }
  const found = await discover(kube, cred, o);
  if (found !== undefined) cache.put(key, found);
  return open(kube, cred, found, o, opts, witnesses);
}

/** Runs `use` with a connection, and closes it however `use` ends. */
export async function withKubetrail(
  o: KubectlFlags,
  use: (c: KubectlConnection) => Promise<void>,
  opts: { keyRequired?: boolean } = {},
): Promise<void> {
  const connection = await connectKubectl(o, opts);
  try {
    await use(connection);
  } finally {
    await connection.source.close();
  }
}
