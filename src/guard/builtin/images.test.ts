import { describe, expect, it } from "vitest";
import {
  checkImages,
  DEFAULT_IMAGE_SETTINGS,
  parseImageRef,
  registryAllowed,
  type ImageSettings,
} from "./images.js";
import { inWorkload } from "../../../test/fixtures/guard/workloads.js";
import { podTemplateOf, POD_KINDS } from "./pod-templates.js";

const DIGEST = "sha256:" + "a".repeat(64);

describe("image references", () => {
  it.each([
    ["nginx", { registry: "docker.io", repository: "library/nginx" }],
    ["nginx:1.25", { registry: "docker.io", repository: "library/nginx", tag: "1.25" }],
    ["acme/app:v1", { registry: "docker.io", repository: "acme/app", tag: "v1" }],
    ["ghcr.io/acme/app@" + DIGEST, { registry: "ghcr.io", repository: "acme/app", digest: DIGEST }],
    ["localhost:5000/app:1", { registry: "localhost:5000", repository: "app", tag: "1" }],
    [
      "registry.example.com:443/team/app:2@" + DIGEST,
      { registry: "registry.example.com:443", repository: "team/app", tag: "2", digest: DIGEST },
    ],
  ])("%s", (image, want) => {
    expect(parseImageRef(image)).toEqual({ tag: undefined, digest: undefined, ...want });
  });

  it("allowed registries are whole registries or path prefixes on segment boundaries", () => {
    const ref = parseImageRef("ghcr.io/acme/app:1");
    expect(registryAllowed(ref, "ghcr.io")).toBe(true);
    expect(registryAllowed(ref, "ghcr.io/acme/")).toBe(true);
    expect(registryAllowed(ref, "ghcr.io/acme")).toBe(true);
    expect(registryAllowed(ref, "ghcr.io/ac")).toBe(false);
    expect(registryAllowed(ref, "docker.io")).toBe(false);
    expect(registryAllowed(parseImageRef("nginx"), "docker.io/library/")).toBe(true);
  });
});

function pod(...images: string[]) {
  return podTemplateOf("Pod", {
    spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) },
  })!;
}

const checks = (s: ImageSettings, ...images: string[]) =>
  checkImages(pod(...images), s).map((v) => `${v.check}@${v.field}`);

describe("the images check", () => {
  it("by default refuses latest and untagged images and wants digests", () => {
    expect(checks(DEFAULT_IMAGE_SETTINGS, "nginx", "nginx:latest", "nginx:1.25", `nginx@${DIGEST}`)).toEqual([
      "latestTag@spec.containers[0].image",
      "digest@spec.containers[0].image",
      "latestTag@spec.containers[1].image",
      "digest@spec.containers[1].image",
      "digest@spec.containers[2].image",
    ]);
  });
  it("a digest pins :latest too", () => {
    expect(checks(DEFAULT_IMAGE_SETTINGS, `nginx:latest@${DIGEST}`)).toEqual([]);
  });
  it("a malformed digest is not a pin", () => {
    expect(checks(DEFAULT_IMAGE_SETTINGS, "nginx:1@sha256:short")).toEqual([
      "digest@spec.containers[0].image",
    ]);
  });
  it("allowed registries, when set", () => {
    const s = {
      allowedRegistries: ["registry.example.com", "ghcr.io/acme/"],
      disallowLatest: false,
      requireDigest: false,
    };
    expect(checks(s, "registry.example.com/a:1", "ghcr.io/acme/b:1", "ghcr.io/other/c:1", "nginx:1")).toEqual(
      ["allowedRegistries@spec.containers[2].image", "allowedRegistries@spec.containers[3].image"],
    );
  });
  it("each switch turns its check off", () => {
    expect(checks({ allowedRegistries: [], disallowLatest: false, requireDigest: false }, "nginx")).toEqual(
      [],
    );
  });
  it.each(POD_KINDS)("covers init and ephemeral containers in %s", (kind) => {
    const spec = {
      initContainers: [{ name: "i", image: "busybox" }],
      ephemeralContainers: [{ name: "e", image: `busybox@${DIGEST}` }],
      containers: [{ name: "c", image: `app:1@${DIGEST}` }],
    };
    const object = inWorkload(kind, spec);
    const v = checkImages(podTemplateOf(kind, object)!, DEFAULT_IMAGE_SETTINGS);
    expect(v.map((x) => x.check)).toEqual(["latestTag", "digest"]);
    expect(v[0]!.field).toMatch(/initContainers\[0\]\.image$/);
  });
});
