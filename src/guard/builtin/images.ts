// Image provenance: images only from allowed registries, never `:latest` (or no tag, which
// means latest), and pinned by digest. Image references are read the way container runtimes
// read them: "nginx" is docker.io/library/nginx:latest.
import type { Violation } from "../types.js";
import type { PodTemplate } from "./pod-templates.js";

export interface ImageSettings {
  /**
   * Allowed registries or repository prefixes: "registry.example.com" (the whole registry) or
   * "ghcr.io/acme/" (a path prefix). Empty: any registry.
   */
  allowedRegistries: string[];
  /** Refuse ":latest" and untagged images. */
  disallowLatest: boolean;
  /** Require "@sha256:…" digests. */
  requireDigest: boolean;
}

export const DEFAULT_IMAGE_SETTINGS: ImageSettings = {
  allowedRegistries: [],
  disallowLatest: true,
  requireDigest: true,
};

export interface ImageRef {
  /** Registry host, e.g. docker.io, ghcr.io, localhost:5000. */
  registry: string;
  /** Repository path without the registry, e.g. library/nginx. */
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseImageRef(image: string): ImageRef {
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf("/");
  const first = slash === -1 ? "" : rest.slice(0, slash);
  let registry = "docker.io";
  let repository = rest;
  if (slash !== -1 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = first;
    repository = rest.slice(slash + 1);
  }
  if (registry === "docker.io" && !repository.includes("/")) repository = `library/${repository}`;
  return { registry, repository, tag, digest };
}

/** True when `ref` is under `allowed` ("host" = the whole registry, "host/path/" = that prefix). */
export function registryAllowed(ref: ImageRef, allowed: string): boolean {
  const full = `${ref.registry}/${ref.repository}`;
  const entry = allowed.replace(/\/+$/, "");
  if (!entry.includes("/")) return ref.registry === entry;
  return full === entry || full.startsWith(`${entry}/`);
}

export function checkImages(t: PodTemplate, s: ImageSettings): Violation[] {
  const out: Violation[] = [];
  for (const c of t.containers) {
    const image = c.container["image"];
    const field = `${c.path}.image`;
    if (typeof image !== "string" || image === "") continue;
    const ref = parseImageRef(image);
    if (s.allowedRegistries.length > 0 && !s.allowedRegistries.some((a) => registryAllowed(ref, a)))
      out.push({
        check: "allowedRegistries",
        field,
        message: `container "${c.name}" image ${image} is not from an allowed registry (${s.allowedRegistries.join(", ")})`,
      });
    if (s.disallowLatest && ref.digest === undefined && (ref.tag === undefined || ref.tag === "latest"))
      out.push({
        check: "latestTag",
        field,
        message: `container "${c.name}" image ${image} ${ref.tag === undefined ? "has no tag (latest)" : "uses :latest"}; pin a version`,
      });
    if (s.requireDigest && (ref.digest === undefined || !/^sha256:[0-9a-f]{64}$/.test(ref.digest)))
      out.push({
        check: "digest",
        field,
        message: `container "${c.name}" image ${image} is not pinned by digest (@sha256:…)`,
      });
  }
  return out;
}
