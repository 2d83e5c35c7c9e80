#!/usr/bin/env bash
# Makes a real kube-apiserver v1.20.2, etcd and kubectl available to the tests, cached
# outside the clone so only the first run on a machine pays for the build (about four
# minutes on two idle cores, up to eleven when they are busy). Only Debian's package archive
# is reachable, and Debian bookworm's Go (1.19) is too old for newer Kubernetes, so the
# apiserver is built from Debian's source package of Kubernetes 1.20.2; etcd and kubectl come
# from Debian's binary packages.
#
# Usage: scripts/kube-apiserver.sh          build if needed, print the bin directory
#        scripts/kube-apiserver.sh --check  print the bin directory if the cache is complete,
#                                           else say so and exit 1 (never builds)
#
# The cache is $KUBETRAIL_TEST_CACHE (default /var/cache/kubetrail-test). Idempotent, and
# safe when several processes run it at once: the build runs under an exclusive lock and
# the result appears by one rename, so a reader sees either nothing or a complete set.
set -euo pipefail

# Bump when the recipe below changes what is built, so caches from an older recipe are rebuilt.
RECIPE=2
K8S_VERSION=v1.20.2
SRC_PACKAGE=kubernetes
CACHE=${KUBETRAIL_TEST_CACHE:-/var/cache/kubetrail-test}
DEST=$CACHE/kube-$K8S_VERSION-r$RECIPE
STAMP=$DEST/READY

main() {
  complete() {
    [ -f "$STAMP" ] && [ -x "$DEST/bin/kube-apiserver" ] && [ -x "$DEST/bin/etcd" ] && [ -x "$DEST/bin/kubectl" ]
  }

  if [ "${1:-}" = --check ]; then
    if complete; then
      echo "$DEST/bin"
      exit 0
    fi
    echo "kube-apiserver.sh: $DEST is not built yet; run scripts/kube-apiserver.sh (npm test does)" >&2
    exit 1
  fi
  if complete; then
    echo "$DEST/bin"
    exit 0
  fi

  log() { echo "kube-apiserver.sh: $*" >&2; }
  die() {
    log "$*"
    exit 1
  }

  need_pkgs=()
  command -v go >/dev/null || need_pkgs+=(golang-go)
  command -v flock >/dev/null || need_pkgs+=(util-linux)
  if [ ${#need_pkgs[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing ${need_pkgs[*]}; run as root or install them with apt-get"
    log "installing ${need_pkgs[*]}"
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  fi

  mkdir -p "$CACHE" 2>/dev/null || die "cannot create $CACHE; run as root once or set KUBETRAIL_TEST_CACHE to a writable directory"
  [ -w "$CACHE" ] || die "$CACHE is not writable; run as root once or set KUBETRAIL_TEST_CACHE"

  exec 9>"$CACHE/.lock"
  if ! flock -n 9; then
    log "another build holds $CACHE/.lock; waiting for it"
    flock 9
  fi
  # The holder before us may have finished the job.
  if complete; then
    echo "$DEST/bin"
    exit 0
  fi

  WORK=$CACHE/work-r$RECIPE
  rm -rf "$WORK"
  mkdir -p "$WORK"
  # A failed or interrupted build leaves nothing half-made behind (the next run starts over).
  trap 'rm -rf "$WORK"' EXIT
  started=$(date +%s)
  log "first run on this machine: building kube-apiserver $K8S_VERSION from Debian's source package (4 to 11 minutes on 2 cores, once per machine; cached in $DEST)"

  # A private apt configuration with deb-src entries, so the system's own stays untouched.
  APT=$WORK/apt
  mkdir -p "$APT/sources.list.d" "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/download"
  sources=/etc/apt/sources.list.d/debian.sources
  if [ -f "$sources" ]; then
    sed -E 's/^Types:.*/Types: deb deb-src/' "$sources" >"$APT/sources.list.d/debian.sources"
    : >"$APT/sources.list"
  elif [ -f /etc/apt/sources.list ]; then
    sed -nE 's/^deb (.*)/deb \1\ndeb-src \1/p' /etc/apt/sources.list >"$APT/sources.list"
  else
    die "no Debian apt sources found (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list)"
  fi
  apt_opts=(
    -o "Dir::Etc::SourceParts=$APT/sources.list.d"
    -o "Dir::Etc::SourceList=$APT/sources.list"
    -o "Dir::State::Lists=$APT/lists"
    -o "Dir::Cache=$APT/cache"
    -o "APT::Sandbox::User=root"
    -o "Debug::NoLocking=1"
  )
  log "fetching package lists (private apt directory)"
  apt-get "${apt_opts[@]}" -qq update
  (
    cd "$APT/download"
    log "downloading the source package $SRC_PACKAGE and etcd-server, kubernetes-client, golang-github-modern-go-reflect2-dev"
    apt-get "${apt_opts[@]}" -qq source --download-only "$SRC_PACKAGE"
    apt-get "${apt_opts[@]}" -qq download etcd-server kubernetes-client golang-github-modern-go-reflect2-dev
  )
  shopt -s nullglob
  orig=("$APT/download/${SRC_PACKAGE}_"*"${K8S_VERSION#v}.orig.tar."*)
  [ ${#orig[@]} -eq 1 ] || die "expected one upstream ${K8S_VERSION} tarball from the source package, found: ${orig[*]:-none} (Debian's package may have moved to another version)"

  # Binary packages: unpacked into a private root, never installed.
  ROOT=$WORK/root
  mkdir -p "$ROOT"
  for deb in "$APT/download/"*.deb; do dpkg-deb -x "$deb" "$ROOT"; done
  [ -x "$ROOT/usr/bin/etcd" ] || die "etcd-server did not provide usr/bin/etcd"
  [ -x "$ROOT/usr/bin/kubectl" ] || die "kubernetes-client did not provide usr/bin/kubectl"
  reflect2=$ROOT/usr/share/gocode/src/github.com/modern-go/reflect2
  [ -d "$reflect2" ] || die "golang-github-modern-go-reflect2-dev did not provide $reflect2"

  log "unpacking ${orig[0]##*/}"
  TREE=$WORK/kubernetes
  mkdir -p "$TREE"
  tar -xf "${orig[0]}" -C "$TREE" --strip-components=1
  [ -d "$TREE/cmd/kube-apiserver" ] && [ -d "$TREE/vendor" ] || die "the upstream tarball lacks cmd/kube-apiserver or vendor/"

  # Kubernetes 1.20 builds only in GOPATH mode (module mode wants go.mod updates).
  export GOPATH=$WORK/gopath GOCACHE=$WORK/gocache GO111MODULE=off CGO_ENABLED=0 GOPROXY=off GOFLAGS=
  mkdir -p "$GOPATH/src/k8s.io"
  ln -s "$TREE" "$GOPATH/src/k8s.io/kubernetes"
  cd "$GOPATH/src/k8s.io/kubernetes"

  # The vendored reflect2 1.0.1 dereferences nil with Go >= 1.18 (service-account token
  # authentication, kubectl auth can-i, delete-collection); 1.0.2 fixes it.
  rm -rf vendor/github.com/modern-go/reflect2
  mkdir -p vendor/github.com/modern-go/reflect2
  for f in "$reflect2"/*.go "$reflect2"/*.s; do
    case $f in *_test.go) continue ;; esac
    cp "$f" vendor/github.com/modern-go/reflect2/
  done

  # The release tarball lacks the generated OpenAPI definitions the apiserver links against.
  log "generating pkg/generated/openapi (vendored openapi-gen)"
  go build -o "$WORK/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen
  # As upstream's Makefile.generated_files does: every package with the tag, staging reached
  # through its vendor/ symlinks (grep -R follows them), minus the two example API servers.
  inputs=$(
    grep -Rl --include='*.go' '^// *+k8s:openapi-gen=' pkg vendor/k8s.io |
      grep -v -e '^vendor/k8s.io/code-generator/' -e '^vendor/k8s.io/sample-apiserver/' |
      xargs -n1 dirname | LC_ALL=C sort -u | sed 's|^|k8s.io/kubernetes/|' | paste -sd, -
  )
  [ -n "$inputs" ] || die "found no package tagged +k8s:openapi-gen="
  "$WORK/openapi-gen" \
    --input-dirs "$inputs" \
    --output-base "$GOPATH/src" \
    --output-package k8s.io/kubernetes/pkg/generated/openapi \
    -O zz_generated.openapi \
    --go-header-file hack/boilerplate/boilerplate.generatego.txt \
    --report-filename "$WORK/openapi-violations.txt"
  [ -f pkg/generated/openapi/zz_generated.openapi.go ] || die "openapi-gen wrote no pkg/generated/openapi/zz_generated.openapi.go"

  log "building cmd/kube-apiserver"
  ldflags=""
  for prefix in k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/client-go/pkg/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
    ldflags+=" -X $prefix.gitVersion=$K8S_VERSION -X $prefix.gitMajor=1 -X $prefix.gitMinor=20 -X $prefix.gitTreeState=clean"
  done
  go build -trimpath -ldflags "-s -w$ldflags" -o "$WORK/out/kube-apiserver" ./cmd/kube-apiserver
  cp "$ROOT/usr/bin/etcd" "$ROOT/usr/bin/kubectl" "$WORK/out/"

  got=$("$WORK/out/kube-apiserver" --version)
  [ "$got" = "Kubernetes $K8S_VERSION" ] || die "built kube-apiserver reports '$got', expected 'Kubernetes $K8S_VERSION'"
  {
    echo "kube-apiserver $K8S_VERSION built from ${orig[0]##*/} in $(($(date +%s) - started)) s on $(date -u +%FT%TZ)"
    # Not `| head -1`: under pipefail, etcd writing its second line after head exited is a
    # SIGPIPE that fails the whole build at its last step.
    etcd_version=$("$WORK/out/etcd" --version)
    echo "${etcd_version%%$'\n'*}"
    "$WORK/out/kubectl" version --client --short 2>/dev/null || true
  } >"$WORK/VERSIONS"

  # One rename publishes the set: readers never see a partial cache.
  rm -rf "$DEST.new"
  mkdir -p "$DEST.new"
  mv "$WORK/VERSIONS" "$DEST.new/VERSIONS"
  mv "$WORK/out" "$DEST.new/bin"
  touch "$DEST.new/READY"
  rm -rf "$DEST"
  mv "$DEST.new" "$DEST"
  # Caches of older recipes are no longer used by anything.
  for old in "$CACHE"/kube-*; do
    [ "$old" = "$DEST" ] || rm -rf "$old"
  done
  log "done in $(($(date +%s) - started)) s: $DEST/bin"
  echo "$DEST/bin"
}

# Parsed in full before it runs: editing or checking out this file during a build is safe.
main "$@"
exit
