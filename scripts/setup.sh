#!/usr/bin/env bash
# Sets pyctr up on a fresh Debian 12 machine (run as root), then runs the main job:
# a container on the built-in busybox image.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# busybox-static: the built-in image; gcc, python3-dev, cmake: the C core; libseccomp-dev:
# compiling seccomp filters; golang-github-containers-common: the seccomp profile pyctr's
# default (docker's) is made from; strace, bpftrace: the tests that show no Python runs in
# the child;
# runc, crun, time: the benchmark's comparison runtimes and its RSS gauge; qemu, a kernel, kmod, xz: the cgroup v2
# test guest (scripts/cgroupv2-vm.sh).  The images' test material, made by others:
# mmdebstrap (a Debian rootfs), umoci (OCI images of it), docker-registry (a registry on
# loopback), skopeo (pushing into it, archives), podman (archives both ways), apache2-utils
# (htpasswd) and openssl (the token server's key); zstd: zstd layers; zsh, fish: the
# completion scripts' tests.  podman (with conmon) and containerd (with ctr and its runc
# shim): the engines tests/oci runs on pyctr-runtime, each a store and daemon of its own.
apt-get install -y -qq --no-install-recommends \
    busybox-static python3 python3-venv python3-dev gcc libc6-dev cmake make libseccomp-dev \
    golang-github-containers-common \
    mmdebstrap umoci docker-registry skopeo podman containerd apache2-utils openssl zstd ca-certificates \
    nftables libnftables1 zsh fish \
    strace bpftrace iproute2 runc crun time qemu-system-x86 linux-image-amd64 kmod xz-utils >/dev/null

# Debian's own python3, not whatever python3 comes first on PATH: its interpreter is linked
# statically (no libpython.so to load) and optimised, and starts and imports faster, which
# is most of a `pyctr run` (`import enum`: 5 ms against 14 for a pyenv build, measured).
/usr/bin/python3 -m venv .venv
# Warnings are errors here, as in the C tests (scripts/test.sh): this is the toolchain
# pyctr is built and tested with.  build/ is setuptools' cache: a module moved or
# removed since the last build would otherwise be installed again from there.
rm -rf build
PYCTR_WERROR=1 .venv/bin/pip install -q --disable-pip-version-check '.[test]'
# setuptools is for building only (pip builds in an isolated environment of its own), and
# its distutils-precedence.pth runs an import at every start of the venv's python: about
# 1 ms of every pyctr command (measured: bare `python -c pass` 8% faster without it).
.venv/bin/pip uninstall -q -y setuptools
ln -sf "$PWD/.venv/bin/pyctr" /usr/local/bin/pyctr
# the OCI runtime command line, for podman --runtime and containerd --runc-binary
ln -sf "$PWD/.venv/bin/pyctr-runtime" /usr/local/bin/pyctr-runtime
# containers with --restart always or unless-stopped come back after a reboot (a host
# that boots with systemd; this unit runs `pyctr _restart-policy` once at boot)
if [ -d /run/systemd/system ]; then
    install -m 0644 contrib/systemd/pyctr-restart.service /etc/systemd/system/
    systemctl daemon-reload && systemctl enable -q pyctr-restart.service
fi

# The main job.  --net none: setting up changes none of the host's networking (the default
# network's bridge pyctr0, its nftables table and ip_forward come with the first container
# that asks for a network, as docker0 does).
pyctr run --rm --net none busybox echo hello
pyctr images
