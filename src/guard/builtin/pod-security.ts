// Pod Security Standards, baseline and restricted, as the latest Kubernetes defines them
// (kubernetes.io/docs/concepts/security/pod-security-standards): every control, each failure
// naming the field. Restricted is cumulative: it runs every baseline control, except where a
// restricted control replaces the baseline one (capabilities, seccomp, /proc mount).
import { isRecord } from "../../json/record.js";
import type { Violation } from "../types.js";
import { containersOf, getPath, type ContainerRef, type PodTemplate } from "./pod-templates.js";

export type PssLevel = "baseline" | "restricted";

export interface PssControl {
  id: string;
  level: PssLevel;
  /** The baseline control this restricted control replaces. */
  replaces?: string;
  title: string;
  check(t: PodTemplate): Violation[];
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

function sc(c: ContainerRef): Record<string, unknown> | undefined {
  const s = c.container["securityContext"];
  return isRecord(s) ? s : undefined;
}

function podSc(t: PodTemplate): Record<string, unknown> | undefined {
  const s = t.spec["securityContext"];
  return isRecord(s) ? s : undefined;
}

const isWindows = (t: PodTemplate) => getPath(t.spec, "os", "name") === "windows";
/** Pods in a user namespace (hostUsers: false): root inside is not root on the node. */
const inUserNamespace = (t: PodTemplate) => t.spec["hostUsers"] === false;

function v(check: string, field: string, message: string): Violation {
  return { check, field, message };
}

function perContainer(
  t: PodTemplate,
  fn: (c: ContainerRef, s: Record<string, unknown> | undefined) => Violation[] | Violation | undefined,
): Violation[] {
  return containersOf(t).flatMap((c) => fn(c, sc(c)) ?? []);
}

const hostProcess: PssControl = {
  id: "hostProcess",
  level: "baseline",
  title: "HostProcess",
  check(t) {
    const out: Violation[] = [];
    if (getPath(podSc(t), "windowsOptions", "hostProcess") === true)
      out.push(
        v(
          this.id,
          `${t.specPath}.securityContext.windowsOptions.hostProcess`,
          "pod must not set securityContext.windowsOptions.hostProcess=true",
        ),
      );
    out.push(
      ...perContainer(t, (c, s) =>
        getPath(s, "windowsOptions", "hostProcess") === true
          ? v(
              this.id,
              `${c.path}.securityContext.windowsOptions.hostProcess`,
              `container "${c.name}" must not set securityContext.windowsOptions.hostProcess=true`,
            )
          : undefined,
      ),
    );
    return out;
  },
};

const hostNamespaces: PssControl = {
  id: "hostNamespaces",
  level: "baseline",
  title: "Host namespaces",
  check(t) {
    return (["hostNetwork", "hostPID", "hostIPC"] as const)
      .filter((f) => t.spec[f] === true)
      .map((f) => v(this.id, `${t.specPath}.${f}`, `pod must not set ${f}=true`));
  },
};

const privileged: PssControl = {
  id: "privileged",
  level: "baseline",
  title: "Privileged containers",
  check(t) {
    return perContainer(t, (c, s) =>
      s?.["privileged"] === true
        ? v(
            this.id,
            `${c.path}.securityContext.privileged`,
            `container "${c.name}" must not set securityContext.privileged=true`,
          )
        : undefined,
    );
  },
};

function capabilityList(s: Record<string, unknown> | undefined, key: "add" | "drop"): unknown[] {
  const l = getPath(s, "capabilities", key);
  return Array.isArray(l) ? l : [];
}

const capabilitiesBaseline: PssControl = {
  id: "capabilities",
  level: "baseline",
  title: "Capabilities",
  check(t) {
    return perContainer(t, (c, s) =>
      capabilityList(s, "add").flatMap((cap, i) =>
        typeof cap === "string" && BASELINE_CAPABILITIES.has(cap)
          ? []
          : [
              v(
                this.id,
                `${c.path}.securityContext.capabilities.add[${i}]`,
                `container "${c.name}" must not add capability ${JSON.stringify(cap)}`,
              ),
            ],
      ),
    );
  },
};

const hostPathVolumes: PssControl = {
  id: "hostPathVolumes",
  level: "baseline",
  title: "HostPath volumes",
  check(t) {
    const vols = t.spec["volumes"];
    if (!Array.isArray(vols)) return [];
    return vols.flatMap((vol: unknown, i) =>
      isRecord(vol) && vol["hostPath"] !== undefined && vol["hostPath"] !== null
        ? [
            v(
              this.id,
              `${t.specPath}.volumes[${i}].hostPath`,
              `volume ${JSON.stringify(vol["name"] ?? i)} must not use hostPath`,
            ),
          ]
        : [],
    );
  },
};

const hostPorts: PssControl = {
  id: "hostPorts",
  level: "baseline",
  title: "Host ports",
  check(t) {
    return perContainer(t, (c) => {
      const ports = c.container["ports"];
      if (!Array.isArray(ports)) return [];
      return ports.flatMap((p: unknown, i) => {
        const hp = isRecord(p) ? p["hostPort"] : undefined;
        return hp === undefined || hp === null || hp === 0
          ? []
          : [
              v(
                this.id,
                `${c.path}.ports[${i}].hostPort`,
                `container "${c.name}" must not use hostPort ${String(hp)}`,
              ),
            ];
      });
    });
  },
};

const hostProbes: PssControl = {
  id: "hostProbesAndHostLifecycle",
  level: "baseline",
  title: "Host probes / lifecycle hooks",
  check(t) {
    return perContainer(t, (c) => {
      const out: Violation[] = [];
      const handlers: [string, unknown][] = [
        ["livenessProbe", c.container["livenessProbe"]],
        ["readinessProbe", c.container["readinessProbe"]],
        ["startupProbe", c.container["startupProbe"]],
        ["lifecycle.postStart", getPath(c.container, "lifecycle", "postStart")],
        ["lifecycle.preStop", getPath(c.container, "lifecycle", "preStop")],
      ];
      for (const [name, h] of handlers)
        for (const action of ["httpGet", "tcpSocket"]) {
          const host = getPath(h, action, "host");
          if (typeof host === "string" && host !== "")
            out.push(
              v(
                this.id,
                `${c.path}.${name}.${action}.host`,
                `container "${c.name}" must not set ${name}.${action}.host`,
              ),
            );
        }
      return out;
    });
  },
};

function appArmorTypeOk(type: unknown): boolean {
  return type === undefined || type === "RuntimeDefault" || type === "Localhost";
}

const appArmor: PssControl = {
  id: "appArmor",
  level: "baseline",
  title: "AppArmor",
  check(t) {
    const out: Violation[] = [];
    const ann = isRecord(t.metadata["annotations"]) ? t.metadata["annotations"] : {};
    for (const [k, val] of Object.entries(ann)) {
      if (!k.startsWith(APPARMOR_ANNOTATION)) continue;
      if (val === "runtime/default" || (typeof val === "string" && val.startsWith("localhost/"))) continue;
      out.push(
        v(
          this.id,
          `${t.metadataPath}.annotations[${JSON.stringify(k)}]`,
          `annotation ${k}=${JSON.stringify(val)} must be runtime/default or localhost/*`,
        ),
      );
    }
    const podType = getPath(podSc(t), "appArmorProfile", "type");
    if (!appArmorTypeOk(podType))
      out.push(
        v(
          this.id,
          `${t.specPath}.securityContext.appArmorProfile.type`,
          `pod must not set appArmorProfile.type=${JSON.stringify(podType)}`,
        ),
      );
    out.push(
      ...perContainer(t, (c, s) => {
        const type = getPath(s, "appArmorProfile", "type");
        return appArmorTypeOk(type)
          ? undefined
          : v(
              this.id,
              `${c.path}.securityContext.appArmorProfile.type`,
              `container "${c.name}" must not set appArmorProfile.type=${JSON.stringify(type)}`,
            );
      }),
    );
    return out;
  },
};

function seLinuxViolations(id: string, opts: unknown, at: string, who: string): Violation[] {
  if (!isRecord(opts)) return [];
  const out: Violation[] = [];
  const type = opts["type"];
  if (type !== undefined && !SELINUX_TYPES.has(type as string))
    out.push(
      v(id, `${at}.seLinuxOptions.type`, `${who} must not set seLinuxOptions.type=${JSON.stringify(type)}`),
    );
  for (const f of ["user", "role"])
    if (opts[f] !== undefined && opts[f] !== "")
      out.push(v(id, `${at}.seLinuxOptions.${f}`, `${who} must not set seLinuxOptions.${f}`));
  return out;
}

const seLinux: PssControl = {
  id: "seLinuxOptions",
  level: "baseline",
  title: "SELinux",
  check(t) {
    return [
      ...seLinuxViolations(this.id, podSc(t)?.["seLinuxOptions"], `${t.specPath}.securityContext`, "pod"),
      ...perContainer(t, (c, s) =>
        seLinuxViolations(
          this.id,
          s?.["seLinuxOptions"],
          `${c.path}.securityContext`,
          `container "${c.name}"`,
        ),
      ),
    ];
  },
};

function procMountViolations(id: string, t: PodTemplate): Violation[] {
  return perContainer(t, (c, s) => {
    const pm = s?.["procMount"];
    return pm === undefined || pm === null || pm === "Default"
      ? undefined
      : v(
          id,
          `${c.path}.securityContext.procMount`,
          `container "${c.name}" must not set securityContext.procMount=${JSON.stringify(pm)}`,
        );
  });
}

const procMountBaseline: PssControl = {
  id: "procMount",
  level: "baseline",
  title: "/proc mount type",
  check(t) {
    return inUserNamespace(t) ? [] : procMountViolations(this.id, t);
  },
};

const procMountRestricted: PssControl = {
  id: "procMount",
  level: "restricted",
  replaces: "procMount",
  title: "/proc mount type",
  check(t) {
    return procMountViolations(this.id, t);
  },
};

const seccompBaseline: PssControl = {
  id: "seccompProfile",
  level: "baseline",
  title: "Seccomp",
  check(t) {
    const out: Violation[] = [];
    if (getPath(podSc(t), "seccompProfile", "type") === "Unconfined")
      out.push(
        v(
          this.id,
          `${t.specPath}.securityContext.seccompProfile.type`,
          "pod must not set seccompProfile.type=Unconfined",
        ),
      );
    out.push(
      ...perContainer(t, (c, s) =>
        getPath(s, "seccompProfile", "type") === "Unconfined"
          ? v(
              this.id,
              `${c.path}.securityContext.seccompProfile.type`,
              `container "${c.name}" must not set seccompProfile.type=Unconfined`,
            )
          : undefined,
      ),
    );
    return out;
  },
};

const sysctls: PssControl = {
  id: "sysctls",
  level: "baseline",
  title: "Sysctls",
  check(t) {
    const list = podSc(t)?.["sysctls"];
    if (!Array.isArray(list)) return [];
    return list.flatMap((s: unknown, i) => {
      const name = isRecord(s) ? s["name"] : undefined;
      return typeof name === "string" && SAFE_SYSCTLS.has(name)
        ? []
        : [
            v(
              this.id,
              `${t.specPath}.securityContext.sysctls[${i}].name`,
              `sysctl ${JSON.stringify(name)} is not in the safe set`,
            ),
          ];
    });
  },
};

const volumeTypes: PssControl = {
  id: "restrictedVolumes",
  level: "restricted",
  title: "Volume types",
  check(t) {
    const vols = t.spec["volumes"];
    if (!Array.isArray(vols)) return [];
    return vols.flatMap((vol: unknown, i) => {
      if (!isRecord(vol)) return [];
      return Object.keys(vol)
        .filter(
          (k) =>
            !VOLUME_NON_SOURCE.has(k) &&
            !RESTRICTED_VOLUMES.has(k) &&
            vol[k] !== null &&
            vol[k] !== undefined,
        )
        .map((k) =>
          v(
            this.id,
            `${t.specPath}.volumes[${i}].${k}`,
            `volume ${JSON.stringify(vol["name"] ?? i)} must not use volume type ${k}`,
          ),
        );
    });
  },
};

const allowPrivilegeEscalation: PssControl = {
  id: "allowPrivilegeEscalation",
  level: "restricted",
  title: "Privilege escalation",
  check(t) {
    if (isWindows(t)) return [];
    return perContainer(t, (c, s) =>
      s?.["allowPrivilegeEscalation"] === false
        ? undefined
        : v(
            this.id,
            `${c.path}.securityContext.allowPrivilegeEscalation`,
            `container "${c.name}" must set securityContext.allowPrivilegeEscalation=false`,
          ),
    );
  },
};

const runAsNonRoot: PssControl = {
  id: "runAsNonRoot",
  level: "restricted",
  title: "Running as non-root",
  check(t) {
    if (inUserNamespace(t)) return [];
    const pod = podSc(t)?.["runAsNonRoot"];
    const out: Violation[] = [];
    if (pod === false)
      out.push(
        v(
          this.id,
          `${t.specPath}.securityContext.runAsNonRoot`,
          "pod must not set securityContext.runAsNonRoot=false",
        ),
      );
    out.push(
      ...perContainer(t, (c, s) => {
        const own = s?.["runAsNonRoot"];
        if (own === false)
          return v(
            this.id,
            `${c.path}.securityContext.runAsNonRoot`,
            `container "${c.name}" must not set securityContext.runAsNonRoot=false`,
          );
        if (own === true || pod === true) return undefined;
        return v(
          this.id,
          `${c.path}.securityContext.runAsNonRoot`,
          `pod or container "${c.name}" must set securityContext.runAsNonRoot=true`,
        );
      }),
    );
    return out;
  },
};

const runAsUser: PssControl = {
  id: "runAsUser",
  level: "restricted",
  title: "Running as non-root user",
  check(t) {
    if (inUserNamespace(t)) return [];
    const out: Violation[] = [];
    if (podSc(t)?.["runAsUser"] === 0)
      out.push(v(this.id, `${t.specPath}.securityContext.runAsUser`, "pod must not set runAsUser=0"));
    out.push(
      ...perContainer(t, (c, s) =>
        s?.["runAsUser"] === 0
          ? v(
              this.id,
              `${c.path}.securityContext.runAsUser`,
              `container "${c.name}" must not set runAsUser=0`,
            )
          : undefined,
      ),
    );
    return out;
  },
};

const seccompTypeOk = (type: unknown) => type === "RuntimeDefault" || type === "Localhost";

const seccompRestricted: PssControl = {
  id: "seccompProfile",
  level: "restricted",
  replaces: "seccompProfile",
  title: "Seccomp (restricted)",
  check(t) {
    if (isWindows(t)) return [];
    const out: Violation[] = [];
    const podType = getPath(podSc(t), "seccompProfile", "type");
    if (podType !== undefined && !seccompTypeOk(podType))
      out.push(
        v(
          this.id,
          `${t.specPath}.securityContext.seccompProfile.type`,
          `pod must not set seccompProfile.type=${JSON.stringify(podType)}`,
        ),
      );
    out.push(
      ...perContainer(t, (c, s) => {
        const type = getPath(s, "seccompProfile", "type");
        if (type !== undefined && !seccompTypeOk(type))
          return v(
            this.id,
            `${c.path}.securityContext.seccompProfile.type`,
            `container "${c.name}" must not set seccompProfile.type=${JSON.stringify(type)}`,
          );
        if (type === undefined && !seccompTypeOk(podType))
          return v(
            this.id,
            `${c.path}.securityContext.seccompProfile.type`,
            `pod or container "${c.name}" must set seccompProfile.type to RuntimeDefault or Localhost`,
          );
        return undefined;
      }),
    );
    return out;
  },
};

const capabilitiesRestricted: PssControl = {
  id: "capabilities",
  level: "restricted",
  replaces: "capabilities",
  title: "Capabilities (restricted)",
  check(t) {
    if (isWindows(t)) return [];
    return perContainer(t, (c, s) => {
      const out: Violation[] = [];
      if (!capabilityList(s, "drop").includes("ALL"))
        out.push(
          v(
            this.id,
            `${c.path}.securityContext.capabilities.drop`,
            `container "${c.name}" must set securityContext.capabilities.drop=["ALL"]`,
          ),
        );
      capabilityList(s, "add").forEach((cap, i) => {
        if (cap !== "NET_BIND_SERVICE")
          out.push(
            v(
              this.id,
              `${c.path}.securityContext.capabilities.add[${i}]`,
              `container "${c.name}" must not add capability ${JSON.stringify(cap)} (only NET_BIND_SERVICE)`,
            ),
          );
      });
      return out;
    });
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

/** The controls a level runs, in a stable order. */
export function pssControls(level: PssLevel): PssControl[] {
  if (level === "baseline") return BASELINE;
  const replaced = new Set(RESTRICTED_ONLY.flatMap((c) => (c.replaces ? [c.replaces] : [])));
  return [...BASELINE.filter((c) => !replaced.has(c.id)), ...RESTRICTED_ONLY];
}

/** Runs the controls of `level` over one pod template. */
export function checkPodSecurity(level: PssLevel, t: PodTemplate): Violation[] {
  return pssControls(level).flatMap((c) => c.check(t));
}
