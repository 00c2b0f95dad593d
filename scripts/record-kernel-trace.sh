#!/usr/bin/env bash
# Records a real Linux kernel's page, slab and page-fault events under QEMU and stores them as a
# bundled recording:
#
#   scripts/record-kernel-trace.sh NAME WORKLOAD [--mem 256M] [--out DIR] [--timeout SECS]
#
#   NAME      the recording's name: writes traces/kernel/NAME/NAME.ftrace.gz and before/, after/
#   WORKLOAD  a shell script run by busybox sh inside the guest (e.g. scripts/kernel-workloads/fork-compact.sh)
#
# Debian, as root. Installs qemu-system-x86, linux-image-amd64, busybox-static and cpio with
# apt-get when missing, builds a busybox initramfs whose /init is scripts/kernel-init.sh, boots the
# Debian kernel with TCG (no KVM needed), and reads the results back from a raw disk the guest
# writes a tar stream to. Booting with no_hash_pointers keeps real pointer values so frees match
# their allocations. Takes a few minutes (TCG).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
usage="usage: record-kernel-trace.sh NAME WORKLOAD [--mem 256M] [--out DIR] [--timeout SECS]"
name="${1:?$usage}"
workload="${2:?$usage}"
shift 2
mem=256M
out="$root/traces/kernel/$name"
timeout=1800
while [[ $# -gt 0 ]]; do
  case "$1" in
    --mem) mem="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    *) echo "record-kernel-trace.sh: unknown option $1" >&2; echo "$usage" >&2; exit 2 ;;
  esac
done
[[ -f "$workload" ]] || { echo "record-kernel-trace.sh: no workload script $workload" >&2; exit 2; }

need=()
command -v qemu-system-x86_64 > /dev/null || need+=(qemu-system-x86)
dpkg -s busybox-static > /dev/null 2>&1 || need+=(busybox-static)
command -v cpio > /dev/null || need+=(cpio)
compgen -G '/boot/vmlinuz-*' > /dev/null || need+=(linux-image-amd64)
if [[ ${#need[@]} -gt 0 ]]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u)
fi

kernel="$(ls /boot/vmlinuz-* | sort -V | tail -n 1)"
kver="${kernel#/boot/vmlinuz-}"
moddir="/lib/modules/$kver"
[[ -d "$moddir" ]] || { echo "record-kernel-trace.sh: no modules for $kver in $moddir" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# ---- initramfs: busybox, the virtio-blk modules, /init and the workload ----
ird="$work/initramfs"
mkdir -p "$ird"/{bin,dev,proc,sys,out,work,lib/modules}
cp "$(command -v busybox)" "$ird/bin/busybox"
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk; do
  f="$(find "$moddir" -name "$m.ko*" | head -n 1)"
  [[ -n "$f" ]] || { echo "record-kernel-trace.sh: module $m not found under $moddir" >&2; exit 1; }
  case "$f" in
    *.ko.xz) xz -dc "$f" > "$ird/lib/modules/$m.ko" ;;
    *.ko.zst) zstd -dcq "$f" > "$ird/lib/modules/$m.ko" ;;
    *.ko.gz) gzip -dc "$f" > "$ird/lib/modules/$m.ko" ;;
    *) cp "$f" "$ird/lib/modules/$m.ko" ;;
  esac
done
cp "$here/kernel-init.sh" "$ird/init"
cp "$workload" "$ird/workload.sh"
chmod +x "$ird/init" "$ird/workload.sh"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.cpio.gz"

# ---- boot: TCG, one CPU (the trace is then one ordered stream), results on a raw virtio disk ----
truncate -s 128M "$work/out.img"
echo "record-kernel-trace.sh: booting $kver with $mem under TCG (minutes); console in $work/console.log" >&2
set +e
timeout "$timeout" qemu-system-x86_64 \
  -machine q35,accel=tcg -cpu max,la57=off -smp 1 -m "$mem" \
  -kernel "$kernel" -initrd "$work/initramfs.cpio.gz" \
  -append "console=ttyS0 no_hash_pointers panic=-1 rdinit=/init loglevel=4" \
  -drive file="$work/out.img",format=raw,if=virtio \
  -nic none -display none -serial file:"$work/console.log" -monitor none -no-reboot
rc=$?
set -e
if [[ $rc -ne 0 ]] || ! tar tf "$work/out.img" > /dev/null 2>&1; then
  echo "record-kernel-trace.sh: QEMU exited with $rc or wrote no results; console:" >&2
  tail -n 40 "$work/console.log" >&2
  exit 1
fi

# ---- results ----
mkdir -p "$work/res"
tar xmf "$work/out.img" -C "$work/res"
if grep -qE '^(overrun|dropped events): [1-9]' "$work/res/ring-buffer-stats"; then
  echo "record-kernel-trace.sh: the ring buffer lost events:" >&2
  cat "$work/res/ring-buffer-stats" >&2
  exit 1
fi
gzip -dc "$work/res/trace.ftrace.gz" > "$work/trace.ftrace"
if grep -q 'LOST.*EVENTS' "$work/trace.ftrace"; then
  echo "record-kernel-trace.sh: the trace reports lost events" >&2; exit 1
fi

rm -rf "$out"
mkdir -p "$out"
cp -r "$work/res/before" "$work/res/after" "$out/"
rm -f "$out/before/.retries" "$out/after/.retries"
gzip -9 -n -c "$work/trace.ftrace" > "$out/$name.ftrace.gz"
cp "$work/res/ring-buffer-stats" "$out/ring-buffer-stats"
cp "$work/res/workload.log" "$out/workload.log"
cp "$workload" "$out/workload.sh"

count() { grep -c " $1: " "$work/trace.ftrace" || true; }
{
  echo "kernel: $(cat "$work/res/kernel-version")"
  echo "cmdline: $(cat "$work/res/cmdline")"
  echo "qemu: -machine q35,accel=tcg -cpu max,la57=off -smp 1 -m $mem"
  echo "workload: $(basename "$workload")"
  echo "snapshot retries (before, after): $(cat "$work/res/before/.retries"), $(cat "$work/res/after/.retries")"
  for e in mm_page_alloc mm_page_free mm_page_free_batched mm_page_alloc_extfrag mm_page_alloc_zone_locked \
           mm_page_pcpu_drain kmalloc kfree kmem_cache_alloc kmem_cache_free page_fault_user tracing_mark_write; do
    echo "events $e: $(count "$e")"
  done
  echo "lines: $(wc -l < "$work/trace.ftrace")"
  sed 's/^/ring buffer /' "$work/res/ring-buffer-stats"
} > "$out/recording.txt"
cat "$out/recording.txt"
echo "record-kernel-trace.sh: wrote $out ($(du -sh "$out" | cut -f1))"
