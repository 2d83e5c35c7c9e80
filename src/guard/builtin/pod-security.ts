// Pod Security Standards, baseline and restricted, as the latest Kubernetes defines them
// (kubernetes.io/docs/concepts/security/pod-security-standards): every control, each failure
// naming the field. Restricted is cumulative: it runs every baseline control, except where a
// restricted control replaces the baseline one (capabilities, seccomp, /proc mount).
//
// Every control runs on every pod review, and almost every pod passes almost every control:
// the controls read the template's shared container list and add failures to one list, so
// a control that finds nothing allocates nothing.
import { isRecord } from "../../json/record.js";
import type { Violation } from "../types.js";
import { getPath, type ContainerRef, type PodTemplate } from "./pod-templates.js";

export type PssLevel = "baseline" | "restricted";

export interface PssControl {
  id: string;
  level: PssLevel;
  /** The baseline control this restricted control replaces. */
  replaces?: string;
  title: string;
  /** Adds the template's failures of this control to `out`. */
  check(t: PodTemplate, out: Violation[]): void;
}

const BASELINE_CAPABILITIES = new Set([
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
]);

const SAFE_SYSCTLS = new Set([
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.tcp_syncookies",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
  "net.ipv4.tcp_rmem",
  "net.ipv4.tcp_wmem",
]);

const SELINUX_TYPES = new Set([
  "",
  "container_t",
  "container_init_t",
  "container_kvm_t",
  "container_engine_t",
]);

const RESTRICTED_VOLUMES = new Set([
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
]);
/** Fields of a volume that are not its source. */
const VOLUME_NON_SOURCE = new Set(["name"]);

const APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/";

const isWindows = (t: PodTemplate) => getPath(t.spec, "os", "name") === "windows";
/** Pods in a user namespace (hostUsers: false): root inside is not root on the node. */
const inUserNamespace = (t: PodTemplate) => t.spec["hostUsers"] === false;

function v(check: string, field: string, message: string): Violation {
  return { check, field, message };
}

/** `fail(id, c, out)` for every container of the template. */
function perContainer(
  t: PodTemplate,
  id: string,
  out: Violation[],
  fail: (id: string, c: ContainerRef, out: Violation[]) => void,
): void {
  for (const c of t.containers) fail(id, c, out);
}

function hostProcessInContainer(id: string, c: ContainerRef, out: Violation[]): void {
  if (getPath(c.securityContext, "windowsOptions", "hostProcess") === true)
    out.push(
      v(
        id,
        `${c.path}.securityContext.windowsOptions.hostProcess`,
        `container "${c.name}" must not set securityContext.windowsOptions.hostProcess=true`,
      ),
    );
}

const hostProcess: PssControl = {
  id: "hostProcess",
  level: "baseline",
  title: "HostProcess",
  check(t, out) {
    if (getPath(t.securityContext, "windowsOptions", "hostProcess") === true)
      out.push(
        v(
          this.id,
          `${t.specPath}.securityContext.windowsOptions.hostProcess`,
          "pod must not set securityContext.windowsOptions.hostProcess=true",
        ),
      );
    perContainer(t, this.id, out, hostProcessInContainer);
  },
};

const HOST_NAMESPACES = ["hostNetwork", "hostPID", "hostIPC"] as const;

const hostNamespaces: PssControl = {
  id: "hostNamespaces",
  level: "baseline",
  title: "Host namespaces",
  check(t, out) {
    for (const f of HOST_NAMESPACES)
      if (t.spec[f] === true) out.push(v(this.id, `${t.specPath}.${f}`, `pod must not set ${f}=true`));
  },
};

function privilegedInContainer(id: string, c: ContainerRef, out: Violation[]): void {
  if (c.securityContext?.["privileged"] === true)
    out.push(
      v(
        id,
        `${c.path}.securityContext.privileged`,
        `container "${c.name}" must not set securityContext.privileged=true`,
      ),
    );
}

const privileged: PssControl = {
  id: "privileged",
  level: "baseline",
  title: "Privileged containers",
  check(t, out) {
    perContainer(t, this.id, out, privilegedInContainer);
  },
};

/** What a missing list reads as. */
const EMPTY: readonly unknown[] = [];

function capabilityList(s: Record<string, unknown> | undefined, key: "add" | "drop"): readonly unknown[] {
  const l = getPath(s, "capabilities", key);
  return Array.isArray(l) ? l : EMPTY;
}

function capabilitiesBaselineInContainer(id: string, c: ContainerRef, out: Violation[]): void {
  const added = capabilityList(c.securityContext, "add");
  for (let i = 0; i < added.length; i++) {
    const cap = added[i];
    if (typeof cap !== "string" || !BASELINE_CAPABILITIES.has(cap))
      out.push(
        v(
          id,
          `${c.path}.securityContext.capabilities.add[${i}]`,
          `container "${c.name}" must not add capability ${JSON.stringify(cap)}`,
        ),
      );
  }
}

const capabilitiesBaseline: PssControl = {
  id: "capabilities",
  level: "baseline",
  title: "Capabilities",
  check(t, out) {
    perContainer(t, this.id, out, capabilitiesBaselineInContainer);
  },
};

/** The pod's volumes (entries that are not objects are skipped by the controls). */
function volumesOf(t: PodTemplate): readonly unknown[] {
  const vols = t.spec["volumes"];
  return Array.isArray(vols) ? vols : EMPTY;
}

const hostPathVolumes: PssControl = {
  id: "hostPathVolumes",
  level: "baseline",
  title: "HostPath volumes",
  check(t, out) {
    const vols = volumesOf(t);
    for (let i = 0; i < vols.length; i++) {
      const vol = vols[i];
      if (isRecord(vol) && vol["hostPath"] !== undefined && vol["hostPath"] !== null)
        out.push(
          v(
            this.id,
            `${t.specPath}.volumes[${i}].hostPath`,
            `volume ${JSON.stringify(vol["name"] ?? i)} must not use hostPath`,
          ),
        );
    }
  },
};

function hostPortsInContainer(id: string, c: ContainerRef, out: Violation[]): void {
  const ports = c.container["ports"];
  if (!Array.isArray(ports)) return;
  for (let i = 0; i < ports.length; i++) {
    const p: unknown = ports[i];
    const hp = isRecord(p) ? p["hostPort"] : undefined;
    if (hp !== undefined && hp !== null && hp !== 0)
      out.push(
        v(id, `${c.path}.ports[${i}].hostPort`, `container "${c.name}" must not use hostPort ${String(hp)}`),
      );
  }
}

const hostPorts: PssControl = {
  id: "hostPorts",
  level: "baseline",
  title: "Host ports",
  check(t, out) {
    perContainer(t, this.id, out, hostPortsInContainer);
  },
};

/** Probes and lifecycle hooks: the name a failure gives, and where the handler is. */
const HANDLERS: readonly (readonly [name: string, parent: string | undefined, key: string])[] = [
  ["livenessProbe", undefined, "livenessProbe"],
  ["readinessProbe", undefined, "readinessProbe"],
  ["startupProbe", undefined, "startupProbe"],
  ["lifecycle.postStart", "lifecycle", "postStart"],
  ["lifecycle.preStop", "lifecycle", "preStop"],
];
const HOST_ACTIONS = ["httpGet", "tcpSocket"] as const;

function hostProbesInContainer(id: string, c: ContainerRef, out: Violation[]): void {
  for (const [name, parent, key] of HANDLERS) {
    const h = parent === undefined ? c.container[key] : getPath(c.container, parent, key);
    if (!isRecord(h)) continue;
    for (const action of HOST_ACTIONS) {
      const host = getPath(h, action, "host");
      if (typeof host === "string" && host !== "")
        out.push(
          v(
            id,
            `${c.path}.${name}.${action}.host`,
            `container "${c.name}" must not set ${name}.${action}.host`,
          ),
        );
    }
  }
}

const hostProbes: PssControl = {
  id: "hostProbesAndHostLifecycle",
  level: "baseline",
  title: "Host probes / lifecycle hooks",
  check(t, out) {
    perContainer(t, this.id, out, hostProbesInContainer);
  },
};

function appArmorTypeOk(type: unknown): boolean {
  return type === undefined || type === "RuntimeDefault" || type === "Localhost";
}

function appArmorInContainer(id: string, c: ContainerRef, out: Violation[]): void {
  const type = getPath(c.securityContext, "appArmorProfile", "type");
  if (!appArmorTypeOk(type))
    out.push(
      v(
        id,
        `${c.path}.securityContext.appArmorProfile.type`,
        `container "${c.name}" must not set appArmorProfile.type=${JSON.stringify(type)}`,
      ),
    );
}

const appArmor: PssControl = {
  id: "appArmor",
  level: "baseline",
  title: "AppArmor",
  check(t, out) {
    const ann = t.metadata["annotations"];
    if (isRecord(ann))
      for (const k of Object.keys(ann)) {
        if (!k.startsWith(APPARMOR_ANNOTATION)) continue;
        const val = ann[k];
        if (val === "runtime/default" || (typeof val === "string" && val.startsWith("localhost/"))) continue;
        out.push(
          v(
            this.id,
            `${t.metadataPath}.annotations[${JSON.stringify(k)}]`,
            `annotation ${k}=${JSON.stringify(val)} must be runtime/default or localhost/*`,
          ),
        );
      }
    const podType = getPath(t.securityContext, "appArmorProfile", "type");
    if (!appArmorTypeOk(podType))
      out.push(
        v(
          this.id,
          `${t.specPath}.securityContext.appArmorProfile.type`,
          `pod must not set appArmorProfile.type=${JSON.stringify(podType)}`,
        ),
      );
    perContainer(t, this.id, out, appArmorInContainer);
  },
};

const SELINUX_NAMED = ["user", "role"] as const;

function seLinuxViolations(
  id: string,
  opts: Record<string, unknown>,
  at: string,
  who: string,
  out: Violation[],
): void {
  const type = opts["type"];
  if (type !== undefined && !SELINUX_TYPES.has(type as string))
    out.push(
      v(id, `${at}.seLinuxOptions.type`, `${who} must not set seLinuxOptions.type=${JSON.stringify(type)}`),
    );
  for (const f of SELINUX_NAMED)
    if (opts[f] !== undefined && opts[f] !== "")
      out.push(v(id, `${at}.seLinuxOptions.${f}`, `${who} must not set seLinuxOptions.${f}`));
}

function seLinuxInContainer(id: string, c: ContainerRef, out: Violation[]): void {
  const opts = c.securityContext?.["seLinuxOptions"];
  if (isRecord(opts)) seLinuxViolations(id, opts, `${c.path}.securityContext`, `container "${c.name}"`, out);
}

const seLinux: PssControl = {
  id: "seLinuxOptions",
  level: "baseline",
  title: "SELinux",
  check(t, out) {
    const opts = t.securityContext?.["seLinuxOptions"];
    if (isRecord(opts)) seLinuxViolations(this.id, opts, `${t.specPath}.securityContext`, "pod", out);
    perContainer(t, this.id, out, seLinuxInContainer);
  },
};

function procMountViolation(id: string, c: ContainerRef, out: Violation[]): void {
  const pm = c.securityContext?.["procMount"];
  if (pm !== undefined && pm !== null && pm !== "Default")
    out.push(
      v(
        id,
        `${c.path}.securityContext.procMount`,
        `container "${c.name}" must not set securityContext.procMount=${JSON.stringify(pm)}`,
      ),
    );
}

const procMountBaseline: PssControl = {
  id: "procMount",
  level: "baseline",
  title: "/proc mount type",
  check(t, out) {
    if (!inUserNamespace(t)) perContainer(t, this.id, out, procMountViolation);
  },
};

const procMountRestricted: PssControl = {
  id: "procMount",
  level: "restricted",
  replaces: "procMount",
  title: "/proc mount type",
  check(t, out) {
    perContainer(t, this.id, out, procMountViolation);
  },
};

function seccompBaselineInContainer(id: string, c: ContainerRef, out: Violation[]): void {
  if (getPath(c.securityContext, "seccompProfile", "type") === "Unconfined")
    out.push(
      v(
        id,
        `${c.path}.securityContext.seccompProfile.type`,
        `container "${c.name}" must not set seccompProfile.type=Unconfined`,
      ),
    );
}

const seccompBaseline: PssControl = {
  id: "seccompProfile",
  level: "baseline",
  title: "Seccomp",
  check(t, out) {
    if (getPath(t.securityContext, "seccompProfile", "type") === "Unconfined")
      out.push(
        v(
          this.id,
          `${t.specPath}.securityContext.seccompProfile.type`,
          "pod must not set seccompProfile.type=Unconfined",
        ),
      );
    perContainer(t, this.id, out, seccompBaselineInContainer);
  },
};

const sysctls: PssControl = {
  id: "sysctls",
  level: "baseline",
  title: "Sysctls",
  check(t, out) {
    const list = t.securityContext?.["sysctls"];
    if (!Array.isArray(list)) return;
    for (let i = 0; i < list.length; i++) {
      const s: unknown = list[i];
      const name = isRecord(s) ? s["name"] : undefined;
      if (typeof name !== "string" || !SAFE_SYSCTLS.has(name))
        out.push(
          v(
            this.id,
            `${t.specPath}.securityContext.sysctls[${i}].name`,
            `sysctl ${JSON.stringify(name)} is not in the safe set`,
          ),
        );
    }
  },
};

const volumeTypes: PssControl = {
  id: "restrictedVolumes",
  level: "restricted",
  title: "Volume types",
  check(t, out) {
    const vols = volumesOf(t);
    for (let i = 0; i < vols.length; i++) {
      const vol = vols[i];
      if (!isRecord(vol)) continue;
      for (const k of Object.keys(vol))
        if (
          !VOLUME_NON_SOURCE.has(k) &&
          !RESTRICTED_VOLUMES.has(k) &&
          vol[k] !== null &&
          vol[k] !== undefined
        )
          out.push(
            v(
              this.id,
              `${t.specPath}.volumes[${i}].${k}`,
              `volume ${JSON.stringify(vol["name"] ?? i)} must not use volume type ${k}`,
            ),
          );
    }
  },
};

function allowPrivilegeEscalationInContainer(id: string, c: ContainerRef, out: Violation[]): void {
  if (c.securityContext?.["allowPrivilegeEscalation"] !== false)
    out.push(
      v(
        id,
        `${c.path}.securityContext.allowPrivilegeEscalation`,
        `container "${c.name}" must set securityContext.allowPrivilegeEscalation=false`,
      ),
    );
}

const allowPrivilegeEscalation: PssControl = {
  id: "allowPrivilegeEscalation",
  level: "restricted",
  title: "Privilege escalation",
  check(t, out) {
    if (isWindows(t)) return;
    perContainer(t, this.id, out, allowPrivilegeEscalationInContainer);
  },
};

const runAsNonRoot: PssControl = {
  id: "runAsNonRoot",
  level: "restricted",
  title: "Running as non-root",
  check(t, out) {
    if (inUserNamespace(t)) return;
    const pod = t.securityContext?.["runAsNonRoot"];
    if (pod === false)
      out.push(
        v(
          this.id,
          `${t.specPath}.securityContext.runAsNonRoot`,
          "pod must not set securityContext.runAsNonRoot=false",
        ),
      );
    for (const c of t.containers) {
      const own = c.securityContext?.["runAsNonRoot"];
      if (own === false)
        out.push(
          v(
            this.id,
            `${c.path}.securityContext.runAsNonRoot`,
            `container "${c.name}" must not set securityContext.runAsNonRoot=false`,
          ),
        );
      else if (own !== true && pod !== true)
        out.push(
          v(
            this.id,
            `${c.path}.securityContext.runAsNonRoot`,
            `pod or container "${c.name}" must set securityContext.runAsNonRoot=true`,
          ),
        );
    }
  },
};

function runAsUserInContainer(id: string, c: ContainerRef, out: Violation[]): void {
  if (c.securityContext?.["runAsUser"] === 0)
    out.push(v(id, `${c.path}.securityContext.runAsUser`, `container "${c.name}" must not set runAsUser=0`));
}

const runAsUser: PssControl = {
  id: "runAsUser",
  level: "restricted",
  title: "Running as non-root user",
  check(t, out) {
    if (inUserNamespace(t)) return;
    if (t.securityContext?.["runAsUser"] === 0)
      out.push(v(this.id, `${t.specPath}.securityContext.runAsUser`, "pod must not set runAsUser=0"));
    perContainer(t, this.id, out, runAsUserInContainer);
  },
};

const seccompTypeOk = (type: unknown) => type === "RuntimeDefault" || type === "Localhost";

const seccompRestricted: PssControl = {
  id: "seccompProfile",
  level: "restricted",
  replaces: "seccompProfile",
  title: "Seccomp (restricted)",
  check(t, out) {
    if (isWindows(t)) return;
    const podType = getPath(t.securityContext, "seccompProfile", "type");
    if (podType !== undefined && !seccompTypeOk(podType))
      out.push(
        v(
          this.id,
          `${t.specPath}.securityContext.seccompProfile.type`,
          `pod must not set seccompProfile.type=${JSON.stringify(podType)}`,
        ),
      );
    for (const c of t.containers) {
      const type = getPath(c.securityContext, "seccompProfile", "type");
      if (type !== undefined && !seccompTypeOk(type))
        out.push(
          v(
            this.id,
            `${c.path}.securityContext.seccompProfile.type`,
            `container "${c.name}" must not set seccompProfile.type=${JSON.stringify(type)}`,
          ),
        );
      else if (type === undefined && !seccompTypeOk(podType))
        out.push(
          v(
            this.id,
            `${c.path}.securityContext.seccompProfile.type`,
            `pod or container "${c.name}" must set seccompProfile.type to RuntimeDefault or Localhost`,
          ),
        );
    }
  },
};

function capabilitiesRestrictedInContainer(id: string, c: ContainerRef, out: Violation[]): void {
  if (!capabilityList(c.securityContext, "drop").includes("ALL"))
    out.push(
      v(
        id,
        `${c.path}.securityContext.capabilities.drop`,
        `container "${c.name}" must set securityContext.capabilities.drop=["ALL"]`,
      ),
    );
  const added = capabilityList(c.securityContext, "add");
  for (let i = 0; i < added.length; i++)
    if (added[i] !== "NET_BIND_SERVICE")
      out.push(
        v(
          id,
          `${c.path}.securityContext.capabilities.add[${i}]`,
          `container "${c.name}" must not add capability ${JSON.stringify(added[i])} (only NET_BIND_SERVICE)`,
        ),
      );
}

const capabilitiesRestricted: PssControl = {
  id: "capabilities",
  level: "restricted",
  replaces: "capabilities",
  title: "Capabilities (restricted)",
  check(t, out) {
    if (isWindows(t)) return;
    perContainer(t, this.id, out, capabilitiesRestrictedInContainer);
  },
};

const BASELINE: PssControl[] = [
  hostProcess,
  hostNamespaces,
  privileged,
  capabilitiesBaseline,
  hostPathVolumes,
  hostPorts,
  hostProbes,
  appArmor,
  seLinux,
  procMountBaseline,
  seccompBaseline,
  sysctls,
];

const RESTRICTED_ONLY: PssControl[] = [
  volumeTypes,
  allowPrivilegeEscalation,
  runAsNonRoot,
  runAsUser,
  seccompRestricted,
  capabilitiesRestricted,
  procMountRestricted,
];

const REPLACED = new Set(RESTRICTED_ONLY.flatMap((c) => (c.replaces ? [c.replaces] : [])));
const RESTRICTED: PssControl[] = [...BASELINE.filter((c) => !REPLACED.has(c.id)), ...RESTRICTED_ONLY];

/** The controls a level runs, in a stable order. */
export function pssControls(level: PssLevel): readonly PssControl[] {
  return level === "baseline" ? BASELINE : RESTRICTED;
}

/** Runs the controls of `level` over one pod template. */
export function checkPodSecurity(level: PssLevel, t: PodTemplate): Violation[] {
  const out: Violation[] = [];
  for (const c of pssControls(level)) c.check(t, out);
  return out;
}
