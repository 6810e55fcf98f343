#!/usr/bin/env bash
# Copied from the team's shared/vm/ so that a clone of pyctr can run its cgroup v2 tests.
# run-in-cgroupv2-vm.sh: run a command inside a throwaway QEMU guest whose cgroup
# hierarchy is pure cgroup v2 (cpuset cpu io memory pids ... all available), with the
# host's root filesystem visible read-only (writes go to a guest-only tmpfs overlay)
# and chosen host directories shared read-write at the same paths.
#
# The guest kernel is the Debian kernel under /boot. The host's cgroup layout is
# never touched, and neither is anything on the host outside the --rw directories.
#
# Packages (Debian 12, as root):
#   apt-get update
#   apt-get install -y --no-install-recommends qemu-system-x86 linux-image-amd64 busybox-static kmod xz-utils
#   (on the host it also uses bash, coreutils, grep -P and busybox's cpio; no pip packages.
#   No /dev/kvm needed: it uses TCG unless a real, non-PVM KVM is there.)
#
# Usage:
#   run-in-cgroupv2-vm.sh [options] [--] COMMAND [ARG...]
#     one COMMAND argument: it is run by `bash -c` (a shell string, like vng --exec)
#     several arguments:    they are exec'd as an argv
# Options:
#   -w, --rw DIR        share host DIR read-write at the same path in the guest (repeatable)
#   -r, --ro DIR        share host DIR read-only at the same path (repeatable); needed only
#                       for paths under /tmp, /run or /var/tmp, which are fresh tmpfs in the
#                       guest (the rest of the host root is visible anyway)
#   -C, --cwd DIR       working directory in the guest (default: the current directory)
#   -m, --memory SIZE   guest RAM, QEMU syntax (default: $V2VM_MEMORY or 2G)
#   -c, --cpus N        guest vCPUs (default: $V2VM_CPUS or 2)
#   -t, --timeout SEC   kill the guest after SEC seconds, exit 124 (default: $V2VM_TIMEOUT or 3600)
#   -k, --kernel FILE   guest kernel (default: $V2VM_KERNEL or the newest /boot/vmlinuz-*
#                       that has /lib/modules/<version>)
#   -a, --accel MODE    tcg | kvm | auto (default: $V2VM_ACCEL or auto; auto picks kvm only
#                       when /dev/kvm is usable and is not the PVM flavour, see NOTES.md)
#   -v, --verbose       print the guest's kernel console log to stderr afterwards
#   -h, --help
# The whole host environment (minus a few shell variables) is exported in the guest,
# so PATH, HOME, PYTHONPATH, ... are as on the host. The exit status is the command's
# (124 on timeout, 125 when the guest failed before or while running it).
#
# Inside the guest: / is an overlay (host / read-only + tmpfs upper), fresh tmpfs on
# /tmp /run /dev/shm, cgroup2 on /sys/fs/cgroup (nsdelegate,memory_recursiveprot)
# with every available controller enabled in the root's cgroup.subtree_control; the
# command runs as root, as PID 1's child, in the root cgroup, with no network but lo.
set -euo pipefail

die() { echo "run-in-cgroupv2-vm: $*" >&2; exit 125; }

RW_DIRS=()
CWD=$PWD
MEMORY=${V2VM_MEMORY:-2G}
CPUS=${V2VM_CPUS:-2}
TIMEOUT=${V2VM_TIMEOUT:-3600}
KERNEL=${V2VM_KERNEL:-}
ACCEL=${V2VM_ACCEL:-auto}
VERBOSE=${V2VM_VERBOSE:-0}

while [ $# -gt 0 ]; do
  case $1 in
    -w|--rw) RW_DIRS+=("rw:$2"); shift 2 ;;
    --rw=*) RW_DIRS+=("rw:${1#*=}"); shift ;;
    -r|--ro) RW_DIRS+=("ro:$2"); shift 2 ;;
    --ro=*) RW_DIRS+=("ro:${1#*=}"); shift ;;
    -C|--cwd) CWD=$2; shift 2 ;;
    --cwd=*) CWD=${1#*=}; shift ;;
    -m|--memory) MEMORY=$2; shift 2 ;;
    -c|--cpus) CPUS=$2; shift 2 ;;
    -t|--timeout) TIMEOUT=$2; shift 2 ;;
    -k|--kernel) KERNEL=$2; shift 2 ;;
    -a|--accel) ACCEL=$2; shift 2 ;;
    -v|--verbose) VERBOSE=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1 (try --help)" ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || die "no command given (try --help)"

QEMU=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 missing: apt-get install qemu-system-x86"
BUSYBOX=$(command -v busybox) || die "busybox missing: apt-get install busybox-static"
ldd "$BUSYBOX" >/dev/null 2>&1 && die "$BUSYBOX is dynamically linked: apt-get install busybox-static"
MODPROBE=$(PATH=$PATH:/sbin:/usr/sbin command -v modprobe) || die "modprobe missing: apt-get install kmod"

# --- kernel -----------------------------------------------------------------------
if [ -z "$KERNEL" ]; then
  for k in $(ls -1v /boot/vmlinuz-* 2>/dev/null | sort -rV); do
    [ -d "/lib/modules/${k#/boot/vmlinuz-}" ] && { KERNEL=$k; break; }
  done
  [ -n "$KERNEL" ] || die "no /boot/vmlinuz-* with modules: apt-get install linux-image-amd64"
fi
[ -r "$KERNEL" ] || die "kernel $KERNEL not readable"
KVER=${KERNEL##*/}; KVER=${KVER#vmlinuz-}; KVER=${KVER#vmlinux-}
KVER=${V2VM_KVER:-$KVER}
MODDIR=/lib/modules/$KVER
[ -d "$MODDIR" ] || die "$MODDIR missing (set V2VM_KVER to the kernel's version)"

# Boot an uncompressed vmlinux through its PVH entry when the kernel supports it: under
# TCG this skips the firmware's real-mode path and the in-guest decompression (~3 s).
# The vmlinux is extracted once per kernel into a cache directory.
extract_vmlinux() {  # bzImage out
  local spec magic dec off
  for spec in '\xfd\x37\x7a\x58\x5a\x00|xz -dc' '\x28\xb5\x2f\xfd|zstd -dc' '\x1f\x8b\x08|gzip -dc'; do
    magic=${spec%%|*} dec=${spec#*|}
    command -v "${dec%% *}" >/dev/null || continue
    for off in $(LC_ALL=C grep -abo -P "$magic" "$1" 2>/dev/null | head -n 4 | cut -d: -f1); do
      tail -c +$((off + 1)) "$1" | $dec 2>/dev/null > "$2.$$" || true
      if [ "$(head -c 4 "$2.$$" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
        mv -f "$2.$$" "$2"; return 0
      fi
    done
  done
  rm -f "$2.$$"; return 1
}
BOOT_KERNEL=$KERNEL
if [ "$(head -c 4 "$KERNEL" | od -An -tx1 | tr -d ' \n')" != 7f454c46 ] && [ "${V2VM_PVH:-1}" = 1 ] \
   && grep -qs '^CONFIG_PVH=y' "/boot/config-$KVER"; then
  CACHE=${V2VM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/v2vm}
  if mkdir -p "$CACHE" 2>/dev/null; then
    if [ ! -s "$CACHE/vmlinux-$KVER" ] || [ "$KERNEL" -nt "$CACHE/vmlinux-$KVER" ]; then
      extract_vmlinux "$KERNEL" "$CACHE/vmlinux-$KVER" || true
    fi
    [ -s "$CACHE/vmlinux-$KVER" ] && BOOT_KERNEL=$CACHE/vmlinux-$KVER
  fi
fi

# --- accelerator --------------------------------------------------------------------
if [ "$ACCEL" = auto ]; then
  # /dev/kvm backed by kvm_pvm (PVM, as on Firecracker-style sandboxes) only runs
  # PVM-enabled guest kernels fast; a stock kernel crawls there, so use TCG.
  if [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] \
     && grep -qwE 'vmx|svm' /proc/cpuinfo; then ACCEL=kvm; else ACCEL=tcg; fi
fi
case $ACCEL in
  kvm) ACCEL_OPTS=(-accel kvm -cpu "${V2VM_CPU_MODEL:-host}") ;;
  tcg) ACCEL_OPTS=(-accel tcg,thread=multi,tb-size=512 -cpu "${V2VM_CPU_MODEL:-max}") ;;
  *) die "--accel must be tcg, kvm or auto" ;;
esac

# --- work dir (control share: command, env, exit code) -------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/v2vm.XXXXXX")
case $WORK in *,*|*[[:space:]]*) rm -rf "$WORK"; die "TMPDIR must not contain commas or spaces";; esac
QPID=
CATPID=
cleanup() {
  if [ -n "$QPID" ]; then kill "$QPID" 2>/dev/null; wait "$QPID" 2>/dev/null; fi
  if [ -n "$CATPID" ]; then kill "$CATPID" 2>/dev/null; fi
  rm -rf "$WORK"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM
CTL=$WORK/ctl; mkdir -p "$CTL"

if [ $# -eq 1 ]; then printf '%s\0' bash -c "$1" > "$CTL/argv"
else printf '%s\0' "$@" > "$CTL/argv"; fi
env -0 > "$CTL/env"
printf '%s' "$CWD" > "$CTL/cwd"
: > "$CTL/rw"
SHARE_OPTS=()
i=0
for spec in ${RW_DIRS[@]+"${RW_DIRS[@]}"}; do
  mode=${spec%%:*} d=${spec#*:}
  d=$(cd "$d" 2>/dev/null && pwd -P) || die "--$mode ${spec#*:}: no such directory"
  case $d in *[[:space:]]*|*,*) die "--$mode $d: paths with spaces or commas are not supported";; esac
  ro=; [ "$mode" = ro ] && ro=,readonly=on
  SHARE_OPTS+=(-fsdev "local,id=rw$i,path=$d,security_model=none,multidevs=remap$ro"
               -device "virtio-9p-pci,fsdev=rw$i,mount_tag=v2vmrw$i")
  printf 'v2vmrw%s %s %s\n' "$i" "$mode" "$d" >> "$CTL/rw"
  i=$((i + 1))
done

# --- stage 2 (runs as PID 1 in the switched root; the host's bash) ------------------
cat > "$CTL/stage2" <<'STAGE2'
#!/bin/bash
# PID 1 after switch_root; bash builtins only (every exec is slow under TCG)
C=/run/v2vm/ctl
finish() { echo "$1" > $C/rc; /run/v2vm/busybox poweroff -f; echo o > /proc/sysrq-trigger; sleep 10; }
dbg=0; [[ " $(</proc/cmdline) " == *" v2vm.debug "* ]] && dbg=1
mark() { [ $dbg = 1 ] && { read -r up _ < /proc/uptime; echo "v2vm: $* at ${up}s" > /dev/ttyS0; }; }
mark stage2
OUT=/dev/console
for p in /sys/class/virtio-ports/*; do
  [ "$(<"$p/name")" = v2vm.out ] && OUT=/dev/${p##*/}
done
while IFS= read -r -d '' kv; do      # the host environment
  case ${kv%%=*} in
    PWD|OLDPWD|SHLVL|_|BASH_FUNC_*) continue ;;
    TMPDIR) [ -d "${kv#*=}" ] || continue ;;
  esac
  export "$kv" 2>/dev/null
done < $C/env
argv=(); while IFS= read -r -d '' a; do argv+=("$a"); done < $C/argv
cwd=$(<$C/cwd)
exec 2>/dev/ttyS0   # bash's own notes ("Killed" ...) go to the console log, not the output
[ -e $C/setup-failed ] && { echo "run-in-cgroupv2-vm: guest setup: $(<$C/setup-failed)" > "$OUT"; finish 125; }
cd "$cwd" 2>/dev/null || { echo "run-in-cgroupv2-vm: $cwd is not visible in the guest (share it with --rw or --ro); running in /" > "$OUT"; cd /; }
mark command start
( exec "${argv[@]}" ) < /dev/null > "$OUT" 2>&1
rc=$?
mark command end
finish $rc
STAGE2

# --- initramfs ---------------------------------------------------------------------
IRD=$WORK/initrd; mkdir -p "$IRD"/{bin,dev,proc,sys,lower,upper,newroot,mods}
cp "$BUSYBOX" "$IRD/bin/busybox"
: > "$IRD/mods/order"
for m in virtio_pci virtio_console 9pnet_virtio 9p overlay; do
  "$MODPROBE" -S "$KVER" --show-depends "$m" 2>/dev/null | awk '$1=="insmod"{print $2}'
done | awk '!seen[$0]++' | while read -r ko; do
  base=${ko##*/}
  case $ko in
    *.ko) cp "$ko" "$IRD/mods/$base" ;;
    *.ko.xz) xz -dc "$ko" > "$IRD/mods/${base%.xz}"; base=${base%.xz} ;;
    *.ko.zst) zstd -qdc "$ko" > "$IRD/mods/${base%.zst}"; base=${base%.zst} ;;
    *.ko.gz) gzip -dc "$ko" > "$IRD/mods/${base%.gz}"; base=${base%.gz} ;;
  esac
  echo "$base" >> "$IRD/mods/order"
done
cat > "$IRD/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
fail() { echo "v2vm init: $*" > /dev/ttyS0; echo 125 > /newroot/run/v2vm/ctl/rc 2>/dev/null; poweroff -f; }
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mark() { grep -q v2vm.debug /proc/cmdline && echo "v2vm: $* at $(cut -d' ' -f1 /proc/uptime)s" > /dev/ttyS0; }
mark init
for m in $(cat /mods/order); do insmod /mods/$m 2>/dev/null; done
mark modules loaded
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose,access=any hostroot /lower \
  || fail "cannot mount the host root over 9p"
mount -t tmpfs -o mode=755 tmpfs /upper
mkdir -p /upper/u /upper/w
if ! mount -t overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w,index=off,xino=off,redirect_dir=nofollow overlay /newroot 2>/dev/null; then
  echo "v2vm init: overlay root failed, root stays read-only" > /dev/ttyS0
  mount --bind /lower /newroot
fi
mount -t tmpfs -o mode=755 tmpfs /newroot/run
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
[ -d /newroot/var/tmp ] && mount -t tmpfs -o mode=1777 tmpfs /newroot/var/tmp
mkdir -p /newroot/run/v2vm/ctl
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,access=any v2vmctl /newroot/run/v2vm/ctl || fail "no ctl share"
cp /bin/busybox /newroot/run/v2vm/busybox
while read -r tag mode path; do
  [ -n "$tag" ] || continue
  mkdir -p "/newroot$path" 2>/dev/null
  o=rw; [ "$mode" = ro ] && o=ro
  mount -t 9p -o $o,trans=virtio,version=9p2000.L,msize=512000,access=any,cache=none "$tag" "/newroot$path" \
    || fail "cannot mount $path"
done < /newroot/run/v2vm/ctl/rw
# cgroup v2 only, every controller enabled at the root (as systemd does)
R=/newroot
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup 2>/dev/null \
  || mount -t cgroup2 cgroup2 /sys/fs/cgroup || echo "cannot mount cgroup2" >> $R/run/v2vm/ctl/setup-failed
sc=; for c in $(cat /sys/fs/cgroup/cgroup.controllers); do sc="$sc +$c"; done
echo "$sc" > /sys/fs/cgroup/cgroup.subtree_control || echo "cannot enable$sc" >> $R/run/v2vm/ctl/setup-failed
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts /dev/pts
[ -e /dev/ptmx ] || ln -s pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue 2>/dev/null
ln -s /proc/self/fd /dev/fd; ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout; ln -s /proc/self/fd/2 /dev/stderr
hostname v2vm
ip link set lo up
echo /sbin/modprobe > /proc/sys/kernel/modprobe
mark mounts done
mount --move /dev $R/dev
mount --move /proc $R/proc
mount --move /sys $R/sys
exec switch_root /newroot /bin/bash /run/v2vm/ctl/stage2
INIT
chmod +x "$IRD/init"
(cd "$IRD" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null) > "$WORK/initrd.cpio" || die "cannot build the initramfs"

# --- run -----------------------------------------------------------------------------
: > "$WORK/console.log"
# The command's output comes back over a virtio serial port into a FIFO that cat copies
# to our stdout (letting QEMU open /proc/self/fd/1 itself would, when stdout is a
# regular file, write from offset 0 over what was there).
mkfifo "$WORK/out"
exec 5<>"$WORK/out"            # a writer we hold until QEMU is gone, so no open() blocks
exec 6<"$WORK/out"
cat <&6 5>&- 6>&- & CATPID=$!
exec 6<&-
set +e
timeout -k 10 "$TIMEOUT" "$QEMU" -name v2vm -machine q35 "${ACCEL_OPTS[@]}" -smp "$CPUS" -m "$MEMORY" \
  -nodefaults -no-user-config -display none -net none -no-reboot \
  -serial "file:$WORK/console.log" -monitor none -parallel none \
  -kernel "$BOOT_KERNEL" -initrd "$WORK/initrd.cpio" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init tsc=reliable mitigations=off ${V2VM_APPEND:-}" \
  -fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap" \
  -device "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot" \
  -fsdev "local,id=ctl,path=$CTL,security_model=none" \
  -device "virtio-9p-pci,fsdev=ctl,mount_tag=v2vmctl" \
  ${SHARE_OPTS[@]+"${SHARE_OPTS[@]}"} \
  -device virtio-serial-pci \
  -chardev "file,id=out,path=$WORK/out" -device virtserialport,chardev=out,name=v2vm.out \
  < /dev/null 5>&- &
QPID=$!
wait "$QPID"; QRC=$?
QPID=
exec 5>&-
wait "$CATPID"; CATPID=
set -e

if [ "$VERBOSE" = 1 ] || [ ! -s "$CTL/rc" ]; then
  echo "----- guest console ($BOOT_KERNEL, accel=$ACCEL) -----" >&2
  tr -d '\r' < "$WORK/console.log" | grep -av '^\s*$' | tail -n 60 >&2  || true
fi
if [ ! -s "$CTL/rc" ]; then
  [ "$QRC" = 124 ] || [ "$QRC" = 137 ] && { echo "run-in-cgroupv2-vm: timed out after ${TIMEOUT}s" >&2; exit 124; }
  die "the guest stopped without an exit status (qemu exit $QRC; see the console above)"
fi
exit "$(cat "$CTL/rc")"
