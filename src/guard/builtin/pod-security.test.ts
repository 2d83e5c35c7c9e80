// Table tests for every Pod Security Standards control, built the way Kubernetes' own PSS
// test fixtures are: a minimal valid pod per level, tweaked into passing and failing pods
// (the same scenarios as k8s.io/pod-security-admission/test, written here independently).
import { describe, expect, it } from "vitest";
import { checkPodSecurity, pssControls, type PssLevel } from "./pod-security.js";
import { inWorkload } from "../../../test/fixtures/guard/workloads.js";
import { podTemplateOf, POD_KINDS } from "./pod-templates.js";

type Pod = { metadata: Record<string, unknown>; spec: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any -- tweaks write deep into test pods

const BASELINE_POD: Pod = {
  metadata: { name: "p" },
  spec: {
    initContainers: [{ name: "initcontainer1", image: "registry.k8s.io/pause" }],
    containers: [{ name: "container1", image: "registry.k8s.io/pause" }],
  },
};

const RESTRICTED_POD: Pod = tweak(BASELINE_POD, (p) => {
  p.spec.securityContext = { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } };
  for (const c of [p.spec.containers[0], p.spec.initContainers[0]])
    c.securityContext = { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } };
});

function tweak(p: Pod, fn: (p: Pod) => void): Pod {
  const copy = structuredClone(p);
  fn(copy);
  return copy;
}

const c0 = (p: Pod) => (p.spec.containers[0].securityContext ??= {});
const i0 = (p: Pod) => (p.spec.initContainers[0].securityContext ??= {});
const psc = (p: Pod) => (p.spec.securityContext ??= {});

interface Case {
  check: string;
  level: PssLevel;
  pass: [string, (p: Pod) => void][];
  fail: [string, (p: Pod) => void, string][];
}

const CASES: Case[] = [
  {
    check: "hostProcess",
    level: "baseline",
    pass: [["hostProcess false", (p) => (psc(p).windowsOptions = { hostProcess: false })]],
    fail: [
      [
        "pod",
        (p) => (psc(p).windowsOptions = { hostProcess: true }),
        "spec.securityContext.windowsOptions.hostProcess",
      ],
      [
        "container",
        (p) => (c0(p).windowsOptions = { hostProcess: true }),
        "spec.containers[0].securityContext.windowsOptions.hostProcess",
      ],
      [
        "initContainer",
        (p) => (i0(p).windowsOptions = { hostProcess: true }),
        "spec.initContainers[0].securityContext.windowsOptions.hostProcess",
      ],
    ],
  },
  {
    check: "hostNamespaces",
    level: "baseline",
    pass: [
      ["all false", (p) => Object.assign(p.spec, { hostNetwork: false, hostPID: false, hostIPC: false })],
    ],
    fail: [
      ["hostNetwork", (p) => (p.spec.hostNetwork = true), "spec.hostNetwork"],
      ["hostPID", (p) => (p.spec.hostPID = true), "spec.hostPID"],
      ["hostIPC", (p) => (p.spec.hostIPC = true), "spec.hostIPC"],
    ],
  },
  {
    check: "privileged",
    level: "baseline",
    pass: [["false", (p) => ((c0(p).privileged = false), (i0(p).privileged = false))]],
    fail: [
      ["container", (p) => (c0(p).privileged = true), "spec.containers[0].securityContext.privileged"],
      [
        "initContainer",
        (p) => (i0(p).privileged = true),
        "spec.initContainers[0].securityContext.privileged",
      ],
      [
        "ephemeralContainer",
        (p) =>
          (p.spec.ephemeralContainers = [
            { name: "debug", image: "busybox", securityContext: { privileged: true } },
          ]),
        "spec.ephemeralContainers[0].securityContext.privileged",
      ],
    ],
  },
  {
    check: "capabilities",
    level: "baseline",
    pass: [
      [
        "the default set",
        (p) =>
          (c0(p).capabilities = {
            add: [
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
            ],
          }),
      ],
    ],
    fail: [
      [
        "NET_RAW",
        (p) => (c0(p).capabilities = { add: ["NET_RAW"] }),
        "spec.containers[0].securityContext.capabilities.add[0]",
      ],
      [
        "SYS_ADMIN on init",
        (p) => (i0(p).capabilities = { add: ["CHOWN", "SYS_ADMIN"] }),
        "spec.initContainers[0].securityContext.capabilities.add[1]",
      ],
      [
        "lowercase is not the same capability",
        (p) => (c0(p).capabilities = { add: ["chown"] }),
        "spec.containers[0].securityContext.capabilities.add[0]",
      ],
    ],
  },
  {
    check: "hostPathVolumes",
    level: "baseline",
    pass: [["emptyDir", (p) => (p.spec.volumes = [{ name: "a", emptyDir: {} }])]],
    fail: [
      [
        "hostPath",
        (p) =>
          (p.spec.volumes = [
            { name: "a", emptyDir: {} },
            { name: "b", hostPath: { path: "/a" } },
          ]),
        "spec.volumes[1].hostPath",
      ],
    ],
  },
  {
    check: "hostPorts",
    level: "baseline",
    pass: [["hostPort 0", (p) => (p.spec.containers[0].ports = [{ containerPort: 80, hostPort: 0 }])]],
    fail: [
      [
        "container",
        (p) => (p.spec.containers[0].ports = [{ containerPort: 80, hostPort: 12345 }]),
        "spec.containers[0].ports[0].hostPort",
      ],
      [
        "initContainer",
        (p) =>
          (p.spec.initContainers[0].ports = [{ containerPort: 80 }, { containerPort: 81, hostPort: 8081 }]),
        "spec.initContainers[0].ports[1].hostPort",
      ],
    ],
  },
  {
    check: "hostProbesAndHostLifecycle",
    level: "baseline",
    pass: [["empty host", (p) => (p.spec.containers[0].livenessProbe = { httpGet: { host: "", port: 80 } })]],
    fail: [
      [
        "liveness httpGet",
        (p) => (p.spec.containers[0].livenessProbe = { httpGet: { host: "bad.host", port: 80 } }),
        "spec.containers[0].livenessProbe.httpGet.host",
      ],
      [
        "readiness tcpSocket",
        (p) => (p.spec.containers[0].readinessProbe = { tcpSocket: { host: "10.0.0.1", port: 80 } }),
        "spec.containers[0].readinessProbe.tcpSocket.host",
      ],
      [
        "startup on init",
        (p) => (p.spec.initContainers[0].startupProbe = { httpGet: { host: "x", port: 80 } }),
        "spec.initContainers[0].startupProbe.httpGet.host",
      ],
      [
        "postStart",
        (p) => (p.spec.containers[0].lifecycle = { postStart: { httpGet: { host: "x", port: 80 } } }),
        "spec.containers[0].lifecycle.postStart.httpGet.host",
      ],
      [
        "preStop tcpSocket",
        (p) => (p.spec.containers[0].lifecycle = { preStop: { tcpSocket: { host: "x", port: 80 } } }),
        "spec.containers[0].lifecycle.preStop.tcpSocket.host",
      ],
    ],
  },
  {
    check: "appArmor",
    level: "baseline",
    pass: [
      [
        "runtime/default annotation",
        (p) =>
          (p.metadata.annotations = {
            "container.apparmor.security.beta.kubernetes.io/container1": "runtime/default",
          }),
      ],
      [
        "localhost annotation",
        (p) =>
          (p.metadata.annotations = {
            "container.apparmor.security.beta.kubernetes.io/container1": "localhost/foo",
          }),
      ],
      ["RuntimeDefault field", (p) => (psc(p).appArmorProfile = { type: "RuntimeDefault" })],
      ["Localhost field", (p) => (c0(p).appArmorProfile = { type: "Localhost", localhostProfile: "x" })],
      ["unrelated annotation", (p) => (p.metadata.annotations = { "example.com/x": "unconfined" })],
    ],
    fail: [
      [
        "unconfined annotation",
        (p) =>
          (p.metadata.annotations = {
            "container.apparmor.security.beta.kubernetes.io/container1": "unconfined",
          }),
        'metadata.annotations["container.apparmor.security.beta.kubernetes.io/container1"]',
      ],
      [
        "pod Unconfined",
        (p) => (psc(p).appArmorProfile = { type: "Unconfined" }),
        "spec.securityContext.appArmorProfile.type",
      ],
      [
        "container Unconfined",
        (p) => (c0(p).appArmorProfile = { type: "Unconfined" }),
        "spec.containers[0].securityContext.appArmorProfile.type",
      ],
    ],
  },
  {
    check: "seLinuxOptions",
    level: "baseline",
    pass: [
      [
        "allowed types",
        (p) => (
          (psc(p).seLinuxOptions = { type: "container_t", level: "s0:c1" }),
          (c0(p).seLinuxOptions = { type: "container_init_t" }),
          (i0(p).seLinuxOptions = { type: "container_kvm_t" })
        ),
      ],
      ["container_engine_t", (p) => (c0(p).seLinuxOptions = { type: "container_engine_t" })],
      ["empty type", (p) => (c0(p).seLinuxOptions = { type: "" })],
    ],
    fail: [
      [
        "pod type",
        (p) => (psc(p).seLinuxOptions = { type: "somevalue" }),
        "spec.securityContext.seLinuxOptions.type",
      ],
      [
        "container user",
        (p) => (c0(p).seLinuxOptions = { user: "somevalue" }),
        "spec.containers[0].securityContext.seLinuxOptions.user",
      ],
      [
        "init role",
        (p) => (i0(p).seLinuxOptions = { role: "somevalue" }),
        "spec.initContainers[0].securityContext.seLinuxOptions.role",
      ],
    ],
  },
  {
    check: "procMount",
    level: "baseline",
    pass: [
      ["Default", (p) => (c0(p).procMount = "Default")],
      ["Unmasked in a user namespace", (p) => ((p.spec.hostUsers = false), (c0(p).procMount = "Unmasked"))],
    ],
    fail: [
      ["Unmasked", (p) => (c0(p).procMount = "Unmasked"), "spec.containers[0].securityContext.procMount"],
      [
        "Unmasked on init",
        (p) => (i0(p).procMount = "Unmasked"),
        "spec.initContainers[0].securityContext.procMount",
      ],
    ],
  },
  {
    check: "seccompProfile",
    level: "baseline",
    pass: [
      ["RuntimeDefault", (p) => (psc(p).seccompProfile = { type: "RuntimeDefault" })],
      ["Localhost", (p) => (c0(p).seccompProfile = { type: "Localhost", localhostProfile: "x" })],
    ],
    fail: [
      [
        "pod Unconfined",
        (p) => (psc(p).seccompProfile = { type: "Unconfined" }),
        "spec.securityContext.seccompProfile.type",
      ],
      [
        "container Unconfined",
        (p) => (c0(p).seccompProfile = { type: "Unconfined" }),
        "spec.containers[0].securityContext.seccompProfile.type",
      ],
    ],
  },
  {
    check: "sysctls",
    level: "baseline",
    pass: [
      [
        "the safe set",
        (p) =>
          (psc(p).sysctls = [
            "kernel.shm_rmid_forced",
            "net.ipv4.ip_local_port_range",
            "net.ipv4.tcp_syncookies",
            "net.ipv4.ping_group_range",
            "net.ipv4.ip_unprivileged_port_start",
            "net.ipv4.ip_local_reserved_ports",
            "net.ipv4.tcp_keepalive_time",
            "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_keepalive_intvl",
            "net.ipv4.tcp_keepalive_probes",
          ].map((name) => ({ name, value: "1" }))),
      ],
    ],
    fail: [
      [
        "unsafe",
        (p) =>
          (psc(p).sysctls = [
            { name: "kernel.shm_rmid_forced", value: "0" },
            { name: "othersysctl", value: "1" },
          ]),
        "spec.securityContext.sysctls[1].name",
      ],
      [
        "kernel.msgmax",
        (p) => (psc(p).sysctls = [{ name: "kernel.msgmax", value: "1" }]),
        "spec.securityContext.sysctls[0].name",
      ],
    ],
  },
  {
    check: "restrictedVolumes",
    level: "restricted",
    pass: [
      [
        "every allowed type",
        (p) =>
          (p.spec.volumes = [
            { name: "a", configMap: { name: "x" } },
            { name: "b", csi: { driver: "x" } },
            { name: "c", downwardAPI: {} },
            { name: "d", emptyDir: {} },
            { name: "e", ephemeral: {} },
            { name: "f", persistentVolumeClaim: { claimName: "x" } },
            { name: "g", projected: { sources: [] } },
            { name: "h", secret: { secretName: "x" } },
          ]),
      ],
    ],
    fail: [
      [
        "gcePersistentDisk",
        (p) => (p.spec.volumes = [{ name: "a", gcePersistentDisk: { pdName: "x" } }]),
        "spec.volumes[0].gcePersistentDisk",
      ],
      [
        "nfs",
        (p) =>
          (p.spec.volumes = [
            { name: "a", emptyDir: {} },
            { name: "b", nfs: { server: "x", path: "/" } },
          ]),
        "spec.volumes[1].nfs",
      ],
      [
        "hostPath",
        (p) => (p.spec.volumes = [{ name: "a", hostPath: { path: "/" } }]),
        "spec.volumes[0].hostPath",
      ],
      ["iscsi", (p) => (p.spec.volumes = [{ name: "a", iscsi: {} }]), "spec.volumes[0].iscsi"],
    ],
  },
  {
    check: "allowPrivilegeEscalation",
    level: "restricted",
    pass: [
      [
        "windows pod, unset",
        (p) => ((p.spec.os = { name: "windows" }), delete c0(p).allowPrivilegeEscalation),
      ],
    ],
    fail: [
      [
        "unset",
        (p) => delete c0(p).allowPrivilegeEscalation,
        "spec.containers[0].securityContext.allowPrivilegeEscalation",
      ],
      [
        "true on init",
        (p) => (i0(p).allowPrivilegeEscalation = true),
        "spec.initContainers[0].securityContext.allowPrivilegeEscalation",
      ],
    ],
  },
  {
    check: "runAsNonRoot",
    level: "restricted",
    pass: [
      [
        "set on all containers",
        (p) => (delete psc(p).runAsNonRoot, (c0(p).runAsNonRoot = true), (i0(p).runAsNonRoot = true)),
      ],
      ["unset in a user namespace", (p) => ((p.spec.hostUsers = false), delete psc(p).runAsNonRoot)],
    ],
    fail: [
      [
        "unset everywhere",
        (p) => delete psc(p).runAsNonRoot,
        "spec.containers[0].securityContext.runAsNonRoot",
      ],
      ["false on pod", (p) => (psc(p).runAsNonRoot = false), "spec.securityContext.runAsNonRoot"],
      [
        "false on container",
        (p) => (c0(p).runAsNonRoot = false),
        "spec.containers[0].securityContext.runAsNonRoot",
      ],
      [
        "false on init",
        (p) => (i0(p).runAsNonRoot = false),
        "spec.initContainers[0].securityContext.runAsNonRoot",
      ],
    ],
  },
  {
    check: "runAsUser",
    level: "restricted",
    pass: [
      ["non-zero", (p) => ((psc(p).runAsUser = 1000), (c0(p).runAsUser = 1001))],
      ["zero in a user namespace", (p) => ((p.spec.hostUsers = false), (psc(p).runAsUser = 0))],
    ],
    fail: [
      ["pod", (p) => (psc(p).runAsUser = 0), "spec.securityContext.runAsUser"],
      ["container", (p) => (c0(p).runAsUser = 0), "spec.containers[0].securityContext.runAsUser"],
      ["init", (p) => (i0(p).runAsUser = 0), "spec.initContainers[0].securityContext.runAsUser"],
    ],
  },
  {
    check: "seccompProfile",
    level: "restricted",
    pass: [
      ["pod Localhost", (p) => (psc(p).seccompProfile = { type: "Localhost", localhostProfile: "testing" })],
      [
        "on every container",
        (p) => (
          delete psc(p).seccompProfile,
          (c0(p).seccompProfile = { type: "RuntimeDefault" }),
          (i0(p).seccompProfile = { type: "Localhost", localhostProfile: "t" })
        ),
      ],
      ["windows pod, unset", (p) => ((p.spec.os = { name: "windows" }), delete psc(p).seccompProfile)],
    ],
    fail: [
      [
        "unset everywhere",
        (p) => delete psc(p).seccompProfile,
        "spec.containers[0].securityContext.seccompProfile.type",
      ],
      [
        "pod Unconfined",
        (p) => (psc(p).seccompProfile = { type: "Unconfined" }),
        "spec.securityContext.seccompProfile.type",
      ],
      [
        "unset init container",
        (p) => (delete psc(p).seccompProfile, (c0(p).seccompProfile = { type: "RuntimeDefault" })),
        "spec.initContainers[0].securityContext.seccompProfile.type",
      ],
      [
        "container Unconfined",
        (p) => (
          delete psc(p).seccompProfile,
          (c0(p).seccompProfile = { type: "RuntimeDefault" }),
          (i0(p).seccompProfile = { type: "Unconfined" })
        ),
        "spec.initContainers[0].securityContext.seccompProfile.type",
      ],
    ],
  },
  {
    check: "capabilities",
    level: "restricted",
    pass: [
      [
        "drop ALL, add NET_BIND_SERVICE",
        (p) => (c0(p).capabilities = { drop: ["ALL"], add: ["NET_BIND_SERVICE"] }),
      ],
      ["windows pod, no drop", (p) => ((p.spec.os = { name: "windows" }), delete c0(p).capabilities)],
    ],
    fail: [
      ["no drop", (p) => delete c0(p).capabilities, "spec.containers[0].securityContext.capabilities.drop"],
      [
        "drop without ALL",
        (p) => (i0(p).capabilities = { drop: ["NET_RAW"] }),
        "spec.initContainers[0].securityContext.capabilities.drop",
      ],
      [
        "add CHOWN (baseline allows it)",
        (p) => (c0(p).capabilities = { drop: ["ALL"], add: ["CHOWN"] }),
        "spec.containers[0].securityContext.capabilities.add[0]",
      ],
    ],
  },
  {
    check: "procMount",
    level: "restricted",
    pass: [["Default", (p) => (c0(p).procMount = "Default")]],
    fail: [
      [
        "Unmasked even in a user namespace",
        (p) => ((p.spec.hostUsers = false), (c0(p).procMount = "Unmasked")),
        "spec.containers[0].securityContext.procMount",
      ],
    ],
  },
];

const fieldsOf = (level: PssLevel, pod: Pod, check?: string) =>
  checkPodSecurity(level, podTemplateOf("Pod", pod)!)
    .filter((v) => check === undefined || v.check === check)
    .map((v) => v.field);

describe("the minimal pods", () => {
  it("pass their level", () => {
    expect(fieldsOf("baseline", BASELINE_POD)).toEqual([]);
    expect(fieldsOf("restricted", RESTRICTED_POD)).toEqual([]);
    expect(fieldsOf("baseline", RESTRICTED_POD)).toEqual([]);
  });
  it("the baseline pod fails restricted", () => {
    expect(fieldsOf("restricted", BASELINE_POD).length).toBeGreaterThan(0);
  });
});

describe.each(CASES)("$level control $check", (c) => {
  // Baseline controls apply at restricted too (restricted is cumulative), unless replaced.
  const levels: PssLevel[] = c.level === "baseline" ? ["baseline", "restricted"] : ["restricted"];
  for (const level of levels) {
    const base = level === "baseline" ? BASELINE_POD : RESTRICTED_POD;
    const replaced =
      level === "restricted" &&
      c.level === "baseline" &&
      pssControls("restricted").some((x) => x.replaces === c.check);
    if (replaced) continue;
    it.each(c.pass)(`${level}: passes: %s`, (_name, fn) => {
      expect(fieldsOf(level, tweak(base, fn), c.check)).toEqual([]);
    });
    it.each(c.fail)(`${level}: fails: %s`, (_name, fn, field) => {
      expect(fieldsOf(level, tweak(base, fn), c.check)).toContain(field);
    });
  }
  // A restricted-only control (one with no baseline control of the same id) never fails a pod at baseline.
  if (c.level === "restricted" && !pssControls("baseline").some((x) => x.id === c.check))
    it.each(c.fail)("baseline does not run it: %s", (_name, fn) => {
      expect(fieldsOf("baseline", tweak(RESTRICTED_POD, fn), c.check)).toEqual([]);
    });
});

const PREFIX: Record<string, string> = {
  Pod: "spec",
  CronJob: "spec.jobTemplate.spec.template.spec",
  PodTemplate: "template.spec",
};

function wrap(kind: string, pod: Pod): { object: Record<string, unknown>; prefix: string } {
  return { object: inWorkload(kind, pod.spec, pod.metadata), prefix: PREFIX[kind] ?? "spec.template.spec" };
}

describe.each(POD_KINDS)("workload kind %s", (kind) => {
  it("finds the pod template and names the full field path of each failure", () => {
    const bad = tweak(RESTRICTED_POD, (p) => {
      c0(p).privileged = true;
      p.spec.hostPID = true;
      p.spec.volumes = [{ name: "h", hostPath: { path: "/" } }];
    });
    const { object, prefix } = wrap(kind, bad);
    const t = podTemplateOf(kind, object);
    expect(t?.specPath).toBe(prefix);
    const fields = checkPodSecurity("baseline", t!).map((v) => v.field);
    expect(fields).toEqual([
      `${prefix}.hostPID`,
      `${prefix}.containers[0].securityContext.privileged`,
      `${prefix}.volumes[0].hostPath`,
    ]);
  });
  it("passes the minimal restricted pod", () => {
    const { object } = wrap(kind, RESTRICTED_POD);
    expect(checkPodSecurity("restricted", podTemplateOf(kind, object)!)).toEqual([]);
  });
});

describe("pods that are not there", () => {
  it("a workload without a template or a kind without pods has nothing to check", () => {
    expect(podTemplateOf("Deployment", { spec: {} })).toBeUndefined();
    expect(podTemplateOf("ConfigMap", { data: {} })).toBeUndefined();
    expect(podTemplateOf("Pod", { spec: "nonsense" })).toBeUndefined();
  });
  it("malformed fields are skipped, not thrown on", () => {
    const weird: Pod = {
      metadata: {},
      spec: {
        containers: [null, 5, { name: "x", securityContext: "bad", ports: "x" }],
        volumes: [null],
        securityContext: { sysctls: [null] },
      },
    };
    const v = checkPodSecurity("restricted", podTemplateOf("Pod", weird)!);
    expect(v.map((x) => x.check)).toContain("sysctls");
  });
});
