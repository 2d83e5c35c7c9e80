// The Go side of the interop tests (go/main.go, golang.org/x/mod/sumdb/{note,tlog} from the
// Debian packages golang-go and golang-golang-x-mod-dev, GOPATH mode, no network): whether Go
// is here, building the helper, and running one of its commands.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const GOPATH = "/usr/share/gocode";
const X_MOD = path.join(GOPATH, "src/golang.org/x/mod/sumdb");
const goSource = path.join(path.dirname(fileURLToPath(import.meta.url)), "go");

const goVersion = spawnSync("go", ["version"], { encoding: "utf8" });
export const haveGo = goVersion.status === 0;
/** Without Go the interop checks are skipped, except on CI, where they fail. */
export const skipGo = !haveGo && process.env.CI !== "true";
if (!haveGo && process.env.CI !== "true") {
  console.warn(
    "go-interop: `go` not found; skipping (install golang-go golang-golang-x-mod-dev, see scripts/system-deps.sh)",
  );
}

/** Builds the helper into `work` and returns the binary's path. */
export function buildGoInterop(work: string): string {
  if (!haveGo)
    throw new Error(
      `go is required on CI for the interop test: ${goVersion.error?.message ?? goVersion.stderr}`,
    );
  const binary = path.join(work, "interop");
  const build = spawnSync("go", ["build", "-o", binary, "."], {
    cwd: goSource,
    encoding: "utf8",
    env: { ...process.env, GO111MODULE: "off", GOPATH, GOCACHE: path.join(work, "gocache"), GOFLAGS: "" },
  });
  if (build.status !== 0) {
    throw new Error(
      `building the Go interop helper failed (is golang-golang-x-mod-dev installed at ${X_MOD}?):\n${build.stderr}`,
    );
  }
  return binary;
}

/** Runs `binary command` with `request` as JSON on stdin; its JSON answer. */
export function runGo<T>(binary: string, command: "check" | "produce", request: unknown): T {
  const run = spawnSync(binary, [command], {
    input: JSON.stringify(request),
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  if (run.status !== 0) throw new Error(`Go interop ${command} failed (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}
