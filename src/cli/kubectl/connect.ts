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
import { kubeCredential } from "../../kube/credentials.js";
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

export async function connectKubectl(
  o: KubectlFlags,
  opts: { keyRequired?: boolean } = {},
): Promise<KubectlConnection> {
  // Checkpoints short of the witness quorum are refused, naming the missing witnesses.
  const witnesses = await witnessPolicyFromOptions(o);
  const kube = loadKubeContext({ kubeconfig: o.kubeconfig, context: o.context });
  const cred = await kubeCredential(kube);
  // The published key and CA are wanted even when --server names another URL (a port-forward):
  // then a cluster without the ConfigMap is no error.
  let found: Discovered | undefined;
  const api = new JsonClient({
    server: kube.server,
    ...(kube.caData === undefined ? {} : { ca: kube.caData }),
    ...(cred.certData === undefined ? {} : { cert: cred.certData, key: cred.keyData }),
    ...(cred.token === undefined ? {} : { token: cred.token }),
    insecure: kube.insecure,
  });
  try {
    found = await discoverKubetrail(api, o.kubetrailNamespace);
  } catch (err) {
    if (o.server === undefined) throw err;
  } finally {
    api.close();
  }
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
