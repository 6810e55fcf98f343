#!/bin/bash
# Copied from the team's shared/oci/ so that a clone of pyctr can run the OCI conformance suite
# (scripts/oci-conformance.sh); upstream of this copy: ../shared/oci/run-validation.sh.
# run-validation.sh - build and run the OCI runtime conformance ("validation")
# suite of opencontainers/runtime-tools, offline, against any OCI runtime CLI.
#
# WHERE THE SUITE'S SOURCE COMES FROM (read this first)
#   The Debian *binary* package golang-github-opencontainers-runtime-tools-dev
#   (bookworm: 0.9.0+git20220423.g0105384-2) ships only the library packages
#   (generate/, validate/, specerror/, cgroups/ ...): NOT validation/, NOT
#   cmd/runtimetest/, NOT rootfs-amd64.tar.gz; and Debian packages no
#   github.com/mndrix/tap-go at all.  Two ways to get the test sources:
#
#   Route A (registry only, usable by CI):  "get-source DIR"
#     downloads the Debian *source* package of runtime-tools with apt-get
#     source, through a private deb-src list (the machine's apt config is not
#     touched).  The bookworm tarball is 404 on the mirror; the trixie/sid one,
#     0.9.0.109.ge931285-1 (upstream commit e931285, 2023), downloads.  Its
#     .dsc is 404 too, so the orig tarball is checked against the SHA-256 in
#     the apt-verified Sources index and unpacked with tar.  Debian strips
#     vendor/, so "build" then compiles in GOPATH mode (GO111MODULE=off)
#     against Debian's golang-*-dev packages in /usr/share/gocode, plus a
#     small TAP writer written for this script (mndrix/tap-go API subset;
#     see write_tap_shim) because tap-go is not packaged.
#
#   Route B (external checkout):  "build SRC_DIR ..." with SRC_DIR a git
#     checkout of https://github.com/opencontainers/runtime-tools (measured:
#     0105384f68e16803891d0a17d9067b1def6a2778 = Debian's 0.9.0+git20220423
#     .g0105384).  That tree carries a complete vendor/, so it builds offline
#     with GOFLAGS=-mod=vendor.  Such a checkout must come from outside the
#     package registries; nothing of it is embedded here.
#
#   "build" picks the mode by itself: SRC_DIR/vendor present -> Route B build,
#   absent -> Route A (GOPATH + Debian packages + shim).
#
# USAGE
#   run-validation.sh install                   # apt-get go, Debian Go deps, busybox-static, runc, crun
#   run-validation.sh get-source DEST_DIR       # Route A: Debian source -> DEST_DIR/runtime-tools
#   run-validation.sh build SRC_DIR OUT_DIR     # build runtimetest + validation/*/*.t into OUT_DIR
#   RUNTIME=/usr/sbin/runc run-validation.sh run OUT_DIR [TEST_NAME...]
#   run-validation.sh summarize RESULTS_DIR     # re-print the summary of an earlier run
#   RUNTIME=... run-validation.sh all OUT_DIR [SRC_DIR]
#                     # install + (get-source into OUT_DIR/src unless SRC_DIR) + build + run
#
# ENVIRONMENT
#   RUNTIME       runtime binary (default: runc).  Must implement the OCI
#                 runtime CLI: create [--bundle --pid-file] / start / state /
#                 kill ID SIG / delete [--force] / list.
#   CGROUP_VIEW   "host" (default) or "v1": run the suite inside a private mount
#                 namespace (unshare -m) with /sys/fs/cgroup/unified unmounted.
#                 Needed for crun on hybrid-cgroup hosts (crun refuses every
#                 container there).  The machine's own mounts are not changed.
#   ROOTFS        "repo" (default; the busybox rootfs-<arch>.tar.gz from the
#                 source tree) or "busybox" (build one from busybox-static).
#   TEST_TIMEOUT  seconds per .t file (default 60).
#   RESULTS_DIR   per-test TAP/stderr logs (default OUT_DIR/results-<runtime>-<date>).
#   SKIP_TESTS    space-separated test names to leave out.
#   DEB_SRC_VERSION  Debian source version for get-source (default 0.9.0.109.ge931285-1).
#
# OUTPUT (last lines of "run")
#   "<N> passed, <M> failed"  N = top-level TAP "ok" (not SKIP/TODO) + passing
#                                 test files that emit no assertion at all
#                             M = "not ok" + 1 per test file that exited non-zero,
#                                 timed out, broke its plan, or (0 assertions)
#                                 reported an "error" diagnostic
#   then the assertion/file breakdown and one "FAILING: <test> (...)" per bad file.
#   Exit status 0 only if M == 0.
#
# CAVEATS
#   * root only; tests run one at a time (they share fixed cgroup paths such as
#     /sys/fs/cgroup/<ctl>/cgrouptest): never run two instances at once.
#   * linux_ns_itype starts a container in the HOST mount namespace, so the
#     runtime mounts proc/dev/sys inside the bundle on the host; the runner
#     unmounts everything under its private TMPDIR after every test.
#   * containers a test leaves behind are force-deleted after every test.
#   * prove(1) cannot read this suite's TAP (JSON inside YAML blocks makes
#     TAP::Parser abort), hence the built-in parser (parse_tap).
#
# Must be run as root (tests create namespaces, cgroups, mounts).
set -u -o pipefail

die() { echo "run-validation.sh: $*" >&2; exit 2; }

do_install() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # golang-github-opencontainers-runtime-tools-dev is only there for its
    # dependencies (Route A compiles against /usr/share/gocode); uuid is extra.
    apt-get install -y -qq golang-go git tar xz-utils gzip busybox-static util-linux \
        golang-github-opencontainers-runtime-tools-dev golang-github-google-uuid-dev >/dev/null
    # the reference runtimes (harmless if you only test your own runtime)
    apt-get install -y -qq runc crun >/dev/null || true
}

# Route A: fetch the Debian source package through apt (private deb-src list).
do_get_source() {   # $1 = DEST_DIR
    local dest ver pkg=golang-github-opencontainers-runtime-tools apt_dir sum file
    ver=${DEB_SRC_VERSION:-0.9.0.109.ge931285-1}
    mkdir -p "$1" && dest=$(cd "$1" && pwd)
    apt_dir=$dest/.apt
    mkdir -p "$apt_dir/parts" "$apt_dir/lists/partial" "$dest/dl"
    # reuse the Debian archive URI this machine's apt is already configured with
    local codename uri
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    uri=$(awk -v c="$codename" '
        /^[ \t]*$/ { if (u != "" && ok) { print u; exit } u = ""; ok = 0; next }
        /^URIs:/ { u = $2 }
        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == c) ok = 1 }
        END { if (u != "" && ok) print u }' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
    [ -n "$uri" ] || uri=$(awk -v c="$codename" '$1 == "deb" && $3 == c {print $2; exit}' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
    [ -n "$uri" ] || die "cannot find the Debian archive URI in /etc/apt"
    cat >"$apt_dir/parts/src.sources" <<EOF
Types: deb-src
URIs: $uri
Suites: $codename trixie sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    local opt=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/parts"
               -o "Dir::State::Lists=$apt_dir/lists")
    apt-get "${opt[@]}" update -qq || die "apt-get update (deb-src) failed"
    # expected checksum of the orig tarball, from the signed Sources index
    read -r sum file < <(apt-cache "${opt[@]}" showsrc "$pkg" | awk -v v="$ver" '
        /^Package:/ {inv = 0} /^Version:/ {inv = ($2 == v)}
        inv && /^Checksums-Sha256:/ {c = 1; next}
        inv && c && /^ / { if ($3 ~ /\.orig\.tar\./) print $1, $3; next } {c = 0}')
    [ -n "${sum:-}" ] || die "no $pkg $ver in the deb-src index"
    # the .dsc is 404 on this mirror, so apt-get source may exit non-zero after
    # fetching the tarballs: judge by the checksum instead of the exit code
    (cd "$dest/dl" && apt-get "${opt[@]}" source --download-only "$pkg=$ver" >apt-source.log 2>&1) || true
    [ -f "$dest/dl/$file" ] || die "could not download $file (see $dest/dl/apt-source.log)"
    echo "$sum  $dest/dl/$file" | sha256sum -c --quiet - || die "checksum mismatch for $file"
    rm -rf "$dest/runtime-tools" && mkdir -p "$dest/runtime-tools"
    tar -xf "$dest/dl/$file" -C "$dest/runtime-tools" --strip-components=1 || die "unpack failed"
    echo "debian-source $pkg $ver" >"$dest/runtime-tools/.source-version"
    echo "source ready: $dest/runtime-tools ($pkg $ver)"
}

make_busybox_rootfs() {   # $1 = output tarball
    local out=$1 tmp applet
    [ -x /bin/busybox ] || die "busybox-static not installed (/bin/busybox)"
    tmp=$(mktemp -d /tmp/oci-rootfs.XXXXXX)
    mkdir -p "$tmp"/{bin,dev,proc,sys,etc,tmp}
    chmod 0755 "$tmp" "$tmp"/{bin,dev,proc,sys,etc}   # mktemp -d gives 0700
    chmod 1777 "$tmp/tmp"
    cp /bin/busybox "$tmp/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$tmp/bin/$applet"
    done
    cat >"$tmp/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:2:2:daemon:/sbin:/bin/false
nobody:x:65534:65534:nobody:/var/empty:/bin/false
EOF
    cat >"$tmp/etc/group" <<'EOF'
root:x:0:root
daemon:x:2:root,daemon
nogroup:x:65533:
nobody:x:65534:
EOF
    tar -C "$tmp" --numeric-owner --owner=0 --group=0 -czf "$out" .
    rm -rf "$tmp"
}

# Minimal TAP-13 writer with the subset of the github.com/mndrix/tap-go API the
# suite uses.  Written for this script (tap-go is not packaged by Debian).
write_tap_shim() {   # $1 = directory to write tap.go into
    mkdir -p "$1"
    cat >"$1/tap.go" <<'EOF'
// Package tap is a minimal TAP version 13 producer offering the subset of the
// github.com/mndrix/tap-go API used by the runtime-tools validation suite.
package tap

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// T emits TAP to Writer (os.Stdout when nil).
type T struct {
	Writer   io.Writer
	count    int
	todoNext bool
}

// New returns a TAP producer writing to os.Stdout.
func New() *T { return &T{} }

func (t *T) out() io.Writer {
	if t.Writer == nil {
		return os.Stdout
	}
	return t.Writer
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "\n# ") }

// Header prints the version line and, when n > 0, the plan.
func (t *T) Header(n int) {
	fmt.Fprintln(t.out(), "TAP version 13")
	if n > 0 {
		fmt.Fprintf(t.out(), "1..%d\n", n)
	}
}

// Ok records one assertion.
func (t *T) Ok(ok bool, desc string) {
	t.count++
	status := "ok"
	if !ok {
		status = "not ok"
	}
	directive := ""
	if t.todoNext {
		directive = " # TODO"
		t.todoNext = false
	}
	fmt.Fprintf(t.out(), "%s %d - %s%s\n", status, t.count, oneLine(desc), directive)
}

// Pass records a passing assertion.
func (t *T) Pass(desc string) { t.Ok(true, desc) }

// Fail records a failing assertion.
func (t *T) Fail(desc string) { t.Ok(false, desc) }

// Skip records n skipped assertions.
func (t *T) Skip(n int, desc string) {
	for i := 0; i < n; i++ {
		t.count++
		fmt.Fprintf(t.out(), "ok %d # SKIP %s\n", t.count, oneLine(desc))
	}
}

// Todo marks the next assertion as TODO.
func (t *T) Todo() *T { t.todoNext = true; return t }

// Count returns the number of assertions so far.
func (t *T) Count() int { return t.count }

// AutoPlan prints the plan for the assertions emitted so far.
func (t *T) AutoPlan() { fmt.Fprintf(t.out(), "1..%d\n", t.count) }

// Diagnostic prints a comment line.
func (t *T) Diagnostic(msg string) { fmt.Fprintf(t.out(), "# %s\n", oneLine(msg)) }

// Diagnosticf prints a formatted comment line.
func (t *T) Diagnosticf(format string, a ...interface{}) { t.Diagnostic(fmt.Sprintf(format, a...)) }

// YAML prints a diagnostic block (JSON is valid YAML).
func (t *T) YAML(v interface{}) error {
	b, err := json.MarshalIndent(v, "  ", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(t.out(), "  ---\n  %s\n  ...\n", b)
	return nil
}
EOF
}

do_build() {   # $1 = SRC_DIR, $2 = OUT_DIR
    local src out f name ver commit arch bdir mode
    src=$(cd "$1" && pwd) || die "no such source dir: $1"
    mkdir -p "$2" && out=$(cd "$2" && pwd)
    [ -d "$src/validation" ] && [ -d "$src/cmd/runtimetest" ] \
        || die "$src is not a runtime-tools tree (validation/, cmd/runtimetest/ missing)"
    command -v go >/dev/null || die "go not installed (run: $0 install)"
    arch=$(go env GOARCH)
    export GOPROXY=off GOSUMDB=off GOCACHE=${GOCACHE:-$out/.gocache}
    ver=$(cat "$src/VERSION" 2>/dev/null || echo unknown)
    if [ -f "$src/.source-version" ]; then commit=$(cat "$src/.source-version")
    else commit=$(git -C "$src" describe --dirty --long --always --tags 2>/dev/null || echo unknown); fi
    if [ -d "$src/vendor" ]; then
        mode="modules + SRC_DIR/vendor"
        export GO111MODULE=on GOFLAGS=-mod=vendor GOPATH=$out/.gopath
        bdir=$src
    else
        mode="GOPATH + Debian /usr/share/gocode"
        [ -d /usr/share/gocode/src/github.com/google/uuid ] \
            || die "Debian Go packages missing (run: $0 install)"
        export GO111MODULE=off GOFLAGS= GOPATH=$out/.gopath:/usr/share/gocode
        bdir=$out/.gopath/src/github.com/opencontainers/runtime-tools
        rm -rf "$bdir" && mkdir -p "$bdir"
        cp -a "$src/." "$bdir/"
        if [ ! -d /usr/share/gocode/src/github.com/mndrix/tap-go ]; then
            write_tap_shim "$out/.gopath/src/github.com/mndrix/tap-go"
            mode="$mode + TAP shim"
        fi
    fi
    cd "$bdir" || exit 2
    echo "build mode: $mode"
    echo "building runtimetest (static) ..."
    go build -tags "netgo osusergo" \
        -ldflags "-extldflags -static -X main.gitCommit=${commit// /_} -X main.version=$ver" \
        -o "$out/runtimetest" ./cmd/runtimetest || die "runtimetest build failed"
    echo "building validation/*/*.t ..."
    for f in validation/*/*.go; do
        case $f in validation/util/*) continue ;; esac
        name=$(basename "$f" .go)
        mkdir -p "$out/validation/$name"
        go build -o "$out/validation/$name/$name.t" "./$f" || die "build of $f failed"
    done
    case ${ROOTFS:-repo} in
        repo) if [ -f "$src/rootfs-$arch.tar.gz" ]; then
                  cp "$src/rootfs-$arch.tar.gz" "$out/rootfs-$arch.tar.gz"
              else
                  echo "no rootfs-$arch.tar.gz in source; building one from busybox-static"
                  make_busybox_rootfs "$out/rootfs-$arch.tar.gz"
              fi ;;
        busybox) make_busybox_rootfs "$out/rootfs-$arch.tar.gz" ;;
        *) die "ROOTFS must be repo or busybox" ;;
    esac
    echo "$commit ($mode, $(go version | awk '{print $3}'), rootfs ${ROOTFS:-repo})" >"$out/SOURCE_COMMIT"
    echo "built $(ls "$out"/validation/*/*.t | wc -l) test binaries into $out"
}

# unmount everything below $1 (deepest first), then empty it; log mounts to $2
cleanup_tmp() {
    local dir=$1 log=$2 m
    for m in $(awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r); do
        echo "$m" >>"$log"
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "warning: cannot unmount $m" >&2
    done
    if awk -v d="$dir/" 'index($2, d) == 1 {found=1} END {exit !found}' /proc/self/mounts; then
        echo "warning: mounts remain under $dir; not deleting bundles" >&2
    else
        find "$dir" -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null
    fi
}

# list container ids known to $RUNTIME (first column of "list", header dropped)
list_ids() { "$RUNTIME" list 2>/dev/null | awk 'NR>1 {print $1}' | sort; }

# Hybrid cgroup hosts (v1 controllers + cgroup2 at /sys/fs/cgroup/unified with a
# controller such as hugetlb enabled) make crun refuse every container:
#   "cgroups in hybrid mode not supported, drop all controllers from cgroupv2".
# CGROUP_VIEW=v1 runs the whole suite inside a PRIVATE mount namespace
# (unshare -m --propagation private) in which /sys/fs/cgroup/unified is
# unmounted, so runtimes see a pure cgroup-v1 host.  The machine's own mounts
# are not changed.  Default CGROUP_VIEW=host runs without this.
is_hybrid_with_v2_controllers() {
    [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = tmpfs ] &&
    [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] &&
    [ -s /sys/fs/cgroup/unified/cgroup.controllers ]
}

do_run() {   # $1 = OUT_DIR, rest = optional test names
    local out rt tests t name log rc start end tstart tend status newids id
    case ${CGROUP_VIEW:-host} in
        host) if is_hybrid_with_v2_controllers; then
                  echo "# note: hybrid cgroups with v2 controllers ($(cat /sys/fs/cgroup/unified/cgroup.controllers)); crun will refuse to run. Consider CGROUP_VIEW=v1." >&2
              fi ;;
        v1) if [ -z "${_OCI_VALIDATION_INNER:-}" ]; then
                command -v unshare >/dev/null || die "unshare (util-linux) needed for CGROUP_VIEW=v1"
                exec unshare -m --propagation private env _OCI_VALIDATION_INNER=1 bash "$(readlink -f "$0")" run "$@"
            fi
            if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
                umount /sys/fs/cgroup/unified || umount -l /sys/fs/cgroup/unified || die "cannot hide /sys/fs/cgroup/unified"
                echo "# cgroup view: v1 only (/sys/fs/cgroup/unified unmounted in a private mount namespace)" >&2
            fi ;;
        *) die "CGROUP_VIEW must be host or v1" ;;
    esac
    out=$(cd "$1" && pwd) || die "no such build dir: $1"; shift
    [ "$(id -u)" = 0 ] || die "must run as root"
    RUNTIME=${RUNTIME:-runc}
    rt=$(command -v "$RUNTIME") || die "runtime not found: $RUNTIME"
    export RUNTIME=$rt
    local tmo=${TEST_TIMEOUT:-60}
    local res=${RESULTS_DIR:-$out/results-$(basename "$rt")-$(date +%Y%m%d-%H%M%S)}
    mkdir -p "$res"
    # bundles go to a private TMPDIR so leftovers can be removed afterwards
    local tmpd; tmpd=$(mktemp -d /tmp/oci-validation-tmp.XXXXXX)
    chmod 0755 "$tmpd"   # like /tmp itself: user-namespaced containers must traverse it
    if [ $# -gt 0 ]; then
        tests=(); for t in "$@"; do tests+=("$out/validation/$t/$t.t"); done
    else
        tests=("$out"/validation/*/*.t)
    fi
    echo "# runtime: $rt ($("$rt" --version 2>&1 | head -1))"
    echo "# suite:   $(cat "$out/SOURCE_COMMIT" 2>/dev/null), $((${#tests[@]})) test files, timeout ${tmo}s each"
    echo "# logs:    $res"
    echo "# cgroup view: ${CGROUP_VIEW:-host}"
    : >"$res/summary.tsv"
    start=$(date +%s.%N)
    cd "$out" || exit 2    # tests look for ./runtimetest and ./rootfs-<arch>.tar.gz
    local before; before=$(list_ids)
    # cgroup dirs the suite creates and does not remove (relative-path tests
    # leave testdir/cgrouptest behind); remember which ones pre-exist
    local cg_pre; cg_pre=$(ls -d /sys/fs/cgroup/*/testdir /sys/fs/cgroup/*/cgrouptest 2>/dev/null)
    for t in "${tests[@]}"; do
        name=$(basename "$t" .t)
        case " ${SKIP_TESTS:-} " in *" $name "*) continue ;; esac
        [ -x "$t" ] || { echo "missing $t" >&2; continue; }
        log="$res/$name.tap"
        tstart=$(date +%s.%N)
        TMPDIR=$tmpd timeout -k 5 "$tmo" "$t" >"$log" 2>"$res/$name.stderr"
        rc=$?
        tend=$(date +%s.%N)
        # remove containers this test left behind
        newids=$(comm -13 <(echo "$before") <(list_ids))
        for id in $newids; do
            "$RUNTIME" kill "$id" KILL >/dev/null 2>&1
            "$RUNTIME" delete --force "$id" >/dev/null 2>&1 \
                || { sleep 1; "$RUNTIME" delete --force "$id" >/dev/null 2>&1; }
            echo "$id" >>"$res/$name.leftover-containers"
        done
        # some tests (linux_ns_itype) run a container in the HOST mount namespace,
        # which leaves proc/dev/sys mounted inside the bundle: unmount, then drop bundles
        cleanup_tmp "$tmpd" "$res/$name.leftover-mounts"
        echo "$rc $(awk -v a="$tstart" -v b="$tend" 'BEGIN{print b-a}')" >"$res/$name.rc"
        echo "# ran $name (exit $rc)" >&2
    done
    end=$(date +%s.%N)
    local d
    for d in /sys/fs/cgroup/*/testdir /sys/fs/cgroup/*/cgrouptest; do
        [ -d "$d" ] || continue
        grep -qxF "$d" <<<"$cg_pre" && continue
        find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null \
            || echo "warning: could not remove leftover cgroup $d" >&2
    done
    rmdir "$tmpd" 2>/dev/null || echo "warning: could not fully remove $tmpd" >&2
    awk -v a="$start" -v b="$end" 'BEGIN{print b-a}' >"$res/wall_seconds"
    do_summarize "$res"
}

# Parse one TAP log into a TSV row:
#   name total pass fail skip todo status secs
# Rules (the suite's own reporting is uneven, see RESULTS.md):
#  * only top-level TAP lines count; runtimetest output nested in YAML is ignored;
#  * plan = sum of all "1..N" lines (some tests print two TAP streams);
#  * exit code != 0 (util.Fatal), timeout, or plan != #assertions -> file error;
#  * lifecycle/hook tests (hooks, prestart, poststart, poststop, *_fail) emit
#    "1..0" and report failure only as a YAML block with an "error" key:
#    0 assertions + such a block -> ERRDIAG (file error);
#  * "expected-error" tests (process_rlimits_fail, process_capabilities_fail)
#    print nothing and exit 0 when the runtime correctly refuses the config:
#    no TAP at all + exit 0 -> status SILENT-OK (a pass).
#  Files with 0 assertions count as one passed or one failed test in the totals.
parse_tap() {   # $1 = name, $2 = tap log, $3 = exit code, $4 = seconds
    awk -v name="$1" -v rc="$3" -v secs="$4" '
        /^ok([ \t]|$)/ {
            if ($0 ~ /#[ \t]*[Ss][Kk][Ii][Pp]/) skip++; else if ($0 ~ /#[ \t]*TODO/) todo++; else pass++
            n++; next }
        /^not ok([ \t]|$)/ {
            if ($0 ~ /#[ \t]*TODO/) todo++; else fail++
            n++; next }
        /^1\.\.[0-9]+/ { split($0, a, /\.\./); plan += a[2]; hasplan = 1; next }
        /^TAP version/ { hastap = 1; next }
        /^  ---[ \t]*$/ { inyaml = 1; next }
        /^  \.\.\.[ \t]*$/ { inyaml = 0; next }
        inyaml { if ($0 ~ /^    "error":/) yamlerr++; next }
        END {
            status = "ok"
            if (rc == 124 || rc == 137) status = "TIMEOUT"
            else if (rc != 0) status = "EXIT" rc
            else if (!hasplan && !hastap && n == 0) status = "SILENT-OK"
            else if (!hasplan) status = "NOPLAN"
            else if (plan != n) status = "BADPLAN(" n "/" plan ")"
            else if (n == 0 && yamlerr > 0) status = "ERRDIAG"
            printf "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%.1f\n", name, n, pass+0, fail+0, skip+0, todo+0, status, secs
        }' "$2"
}

do_summarize() {   # $1 = results dir (contains NAME.tap and NAME.rc)
    local res=$1 f name rc secs
    : >"$res/summary.tsv"
    for f in "$res"/*.tap; do
        name=$(basename "$f" .tap)
        read -r rc secs <"$res/$name.rc" || { rc=255; secs=0; }
        parse_tap "$name" "$f" "$rc" "$secs" >>"$res/summary.tsv"
    done
    {
        printf "%-40s %6s %6s %6s %6s %6s %-14s %6s\n" TEST total pass fail skip todo status secs
        awk -F'\t' '{printf "%-40s %6s %6s %6s %6s %6s %-14s %6s\n", $1,$2,$3,$4,$5,$6,$7,$8}' "$res/summary.tsv"
    } | tee "$res/summary.txt"
    awk -F'\t' -v secs="$(cat "$res/wall_seconds" 2>/dev/null || echo 0)" '
        { tot += $2; p += $3; f += $4; s += $5; td += $6
          ok = ($7 == "ok" || $7 == "SILENT-OK")
          if (!ok) ferr++
          else if ($2 == 0) fpass++          # zero-assertion file that passed
          bad = ($4 > 0 || !ok); nf += bad
          if (bad) list = list "FAILING: " $1 " (" $4 " not ok" (!ok ? ", " $7 : "") ")\n" }
        END {
            printf "%d passed, %d failed\n", p + fpass, f + ferr
            printf "assertions: %d total, %d ok, %d not ok, %d skipped, %d todo; zero-assertion files passed: %d; file-level errors: %d\n", tot, p, f, s, td, fpass, ferr
            printf "test files: %d, passing files: %d, failing files: %d; wall time: %.0fs\n", NR, NR - nf, nf, secs
            printf "%s", list
            exit (f + ferr > 0)
        }' "$res/summary.tsv" | tee -a "$res/summary.txt"
    return "${PIPESTATUS[0]}"
}

cmd=${1:-}; shift || true
case $cmd in
    install) do_install ;;
    get-source) [ $# -eq 1 ] || die "usage: $0 get-source DEST_DIR"; do_get_source "$1" ;;
    build)   [ $# -eq 2 ] || die "usage: $0 build SRC_DIR OUT_DIR"; do_build "$1" "$2" ;;
    run)     [ $# -ge 1 ] || die "usage: RUNTIME=... $0 run OUT_DIR [TEST...]"; do_run "$@" ;;
    summarize) [ $# -eq 1 ] || die "usage: $0 summarize RESULTS_DIR"; do_summarize "$1" ;;
    all)     [ $# -ge 1 ] && [ $# -le 2 ] || die "usage: RUNTIME=... $0 all OUT_DIR [SRC_DIR]"
             do_install || die "install failed"
             if [ $# -eq 2 ]; then srcdir=$2
             else do_get_source "$1/src" || exit 2; srcdir=$1/src/runtime-tools; fi
             (do_build "$srcdir" "$1") || die "build failed"
             do_run "$1" ;;
    *) sed -n '2,/^# Must be run as root/p' "$0"; exit 2 ;;
esac
