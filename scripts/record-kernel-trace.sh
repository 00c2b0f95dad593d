#!/usr/bin/env bash
# Records a real Linux kernel's page, slab and page-fault events under QEMU and stores them as a
# bundled recording:
#
#   scripts/record-kernel-trace.sh NAME WORKLOAD [--mem 256M] [--smp 1] [--kernel VMLINUZ]
#                                  [--buffer-kb 65536] [--tmpfs 160m] [--out DIR] [--timeout SECS]
#
#   NAME      the recording's name: writes traces/kernel/NAME/NAME.ftrace.gz, machine.json, before/, after/
#   WORKLOAD  a shell script run by busybox sh inside the guest (e.g. scripts/kernel-workloads/fork-fragment.sh)
#   --kernel  a vmlinuz to boot instead of the newest /boot/vmlinuz-*: e.g. one extracted from a
#             Debian package (`apt-get download linux-image-6.12.118+deb12-amd64; dpkg-deb -x ...`);
#             its modules are taken from ../lib/modules/VERSION beside it, else /lib/modules/VERSION
#   --buffer-kb  the ftrace ring buffer per CPU (guest memory); --tmpfs  size of the workload's /work
#
# Debian, as root, with gcc and the static libc (libc6-dev). Installs qemu-system-x86, busybox-static and cpio (and linux-image-amd64 when
# no --kernel is given and /boot has none) with apt-get when missing, builds a busybox initramfs
# whose /init is scripts/kernel-init.sh, boots the kernel with TCG (no KVM needed), and reads the
# results back from a raw disk the guest writes a tar stream to. Booting with no_hash_pointers
# keeps real pointer values so frees match their allocations. Takes a few minutes (TCG).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
usage="usage: record-kernel-trace.sh NAME WORKLOAD [--mem 256M] [--smp 1] [--kernel VMLINUZ] [--buffer-kb 65536] [--tmpfs 160m] [--out DIR] [--timeout SECS]"
name="${1:?$usage}"
workload="${2:?$usage}"
shift 2
mem=256M
smp=1
kernel=
buffer_kb=65536
tmpfs=160m
out="$root/traces/kernel/$name"
timeout=1800
while [[ $# -gt 0 ]]; do
  case "$1" in
    --mem) mem="$2"; shift 2 ;;
    --smp) smp="$2"; shift 2 ;;
    --kernel) kernel="$2"; shift 2 ;;
    --buffer-kb) buffer_kb="$2"; shift 2 ;;
    --tmpfs) tmpfs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    *) echo "record-kernel-trace.sh: unknown option $1" >&2; echo "$usage" >&2; exit 2 ;;
  esac
done
[[ -f "$workload" ]] || { echo "record-kernel-trace.sh: no workload script $workload" >&2; exit 2; }
[[ -z "$kernel" || -f "$kernel" ]] || { echo "record-kernel-trace.sh: no kernel image $kernel" >&2; exit 2; }
[[ "$smp" =~ ^[1-9][0-9]*$ && "$buffer_kb" =~ ^[1-9][0-9]*$ ]] || { echo "$usage" >&2; exit 2; }

need=()
command -v qemu-system-x86_64 > /dev/null || need+=(qemu-system-x86)
dpkg -s busybox-static > /dev/null 2>&1 || need+=(busybox-static)
command -v cpio > /dev/null || need+=(cpio)
command -v gcc > /dev/null || need+=(gcc)
[[ -f /usr/lib/x86_64-linux-gnu/libc.a ]] || need+=(libc6-dev)
[[ -n "$kernel" ]] || compgen -G '/boot/vmlinuz-*' > /dev/null || need+=(linux-image-amd64)
if [[ ${#need[@]} -gt 0 ]]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u)
fi

[[ -n "$kernel" ]] || kernel="$(ls /boot/vmlinuz-* | sort -V | tail -n 1)"
kver="$(basename "$kernel")"
kver="${kver#vmlinuz-}"
moddir="$(cd "$(dirname "$kernel")" && pwd)/../lib/modules/$kver"
[[ -d "$moddir" ]] || moddir="/lib/modules/$kver"
[[ -d "$moddir" ]] || { echo "record-kernel-trace.sh: no modules for $kver in $moddir" >&2; exit 1; }

work="$(mktemp -d)"
# kept when the recording fails, for its console.log and results
trap 'if [[ $? -eq 0 ]]; then rm -rf "$work"; else echo "record-kernel-trace.sh: kept $work" >&2; rm -f "$work/out.img"; fi' EXIT

# ---- initramfs: busybox, the virtio-blk modules, /init, the workload and its settings ----
ird="$work/initramfs"
mkdir -p "$ird"/{bin,dev,proc,sys,out,work,lib/modules}
cp "$(command -v busybox)" "$ird/bin/busybox"
# the snapshot reader: marks the instant of each snapshot in the trace and reads the state files
# right after it, with no fork in between (scripts/snapshot-read.c; static: busybox is the only userland)
gcc -static -O2 -o "$ird/bin/snapshot-read" "$here/snapshot-read.c"
# virtio-blk and what it needs, dependencies first; 6.1 builds them all as modules, 6.12 only
# virtio_blk (the rest is in modules.builtin). /lib/modules/load-order lists what /init loads.
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk; do
  f="$(find "$moddir" -name "$m.ko*" | head -n 1)"
  if [[ -z "$f" ]] && grep -q "/$m\.ko\$" "$moddir/modules.builtin" 2> /dev/null; then continue; fi
  [[ -n "$f" ]] || { echo "record-kernel-trace.sh: module $m not found under $moddir" >&2; exit 1; }
  echo "$m" >> "$ird/lib/modules/load-order"
  case "$f" in
    *.ko.xz) xz -dc "$f" > "$ird/lib/modules/$m.ko" ;;
    *.ko.zst) zstd -dcq "$f" > "$ird/lib/modules/$m.ko" ;;
    *.ko.gz) gzip -dc "$f" > "$ird/lib/modules/$m.ko" ;;
    *) cp "$f" "$ird/lib/modules/$m.ko" ;;
  esac
done
cp "$here/kernel-init.sh" "$ird/init"
cp "$workload" "$ird/workload.sh"
printf 'BUFFER_KB=%s\nTMPFS_SIZE=%s\n' "$buffer_kb" "$tmpfs" > "$ird/recording.conf"
chmod +x "$ird/init" "$ird/workload.sh"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.cpio.gz"

# ---- boot: TCG, one CPU by default (the trace is then one ordered stream), results on a raw virtio disk ----
truncate -s 256M "$work/out.img"
qemu_opts="-machine q35,accel=tcg -cpu max,la57=off -smp $smp -m $mem"
echo "record-kernel-trace.sh: booting $kver with $mem, $smp CPU(s) under TCG (minutes); console in $work/console.log" >&2
started=$(date +%s)
set +e
# shellcheck disable=SC2086  # qemu_opts is a list of words
timeout "$timeout" qemu-system-x86_64 $qemu_opts \
  -kernel "$kernel" -initrd "$work/initramfs.cpio.gz" \
  -append "console=ttyS0 no_hash_pointers panic=-1 rdinit=/init loglevel=4" \
  -drive file="$work/out.img",format=raw,if=virtio \
  -nic none -display none -serial file:"$work/console.log" -monitor none -no-reboot
rc=$?
set -e
seconds=$(( $(date +%s) - started ))
if [[ $rc -ne 0 ]] || ! tar tf "$work/out.img" > /dev/null 2>&1; then
  echo "record-kernel-trace.sh: QEMU exited with $rc or wrote no results; console:" >&2
  tail -n 40 "$work/console.log" >&2
  exit 1
fi

# ---- results ----
mkdir -p "$work/res"
tar xmf "$work/out.img" -C "$work/res"
if [[ ! -f "$work/res/ring-buffer-stats" || ! -f "$work/res/trace.ftrace.gz" ]]; then
  echo "record-kernel-trace.sh: the guest wrote no trace; console and workload log:" >&2
  tail -n 40 "$work/console.log" >&2
  cat "$work/res/workload.log" >&2 2> /dev/null || true
  exit 1
fi
if grep -qE '^(overrun|commit overrun|dropped events): [1-9]' "$work/res/ring-buffer-stats"; then
  echo "record-kernel-trace.sh: the ring buffer lost events:" >&2
  cat "$work/res/ring-buffer-stats" >&2
  exit 1
fi
for f in before/buddyinfo before/pagetypeinfo after/buddyinfo after/pagetypeinfo; do
  [[ -s "$work/res/$f" ]] || { echo "record-kernel-trace.sh: the guest wrote an empty $f; console:" >&2; tail -n 40 "$work/console.log" >&2; exit 1; }
done
gzip -dc "$work/res/trace.ftrace.gz" > "$work/trace.ftrace"
if grep -q 'LOST.*EVENTS' "$work/trace.ftrace"; then
  echo "record-kernel-trace.sh: the trace reports lost events" >&2; exit 1
fi

rm -rf "$out"
mkdir -p "$out"
cp -r "$work/res/before" "$work/res/after" "$out/"
rm -f "$out/before/.retries" "$out/after/.retries"
cp "$work/res/boot.log" "$out/boot.log"
gzip -9 -n -c "$work/trace.ftrace" > "$out/$name.ftrace.gz"
cp "$work/res/ring-buffer-stats" "$out/ring-buffer-stats"
cp "$work/res/workload.log" "$out/workload.log"
cp "$workload" "$out/workload.sh"
# what the guest's kallsyms says of the kprobed function (absent = inlined) and the probes it set
cp "$work/res/kallsyms" "$out/kallsyms"
cp "$work/res/kprobe_events" "$out/kprobe_events"

# ---- machine.json: the guest as a machine file (same shape as machines/*.json plus what it ran) ----
# The e820 map is the firmware's, as the guest printed it at boot (BIOS-e820 lines of boot.log);
# /sys/firmware/memmap holds the same table and must agree.
json_str() { local v="${1//\\/\\\\}"; printf '"%s"' "${v//\"/\\\"}"; }
e820_rows="$(sed -n 's/.*BIOS-e820: \[mem \(0x[0-9a-f]*\)-\(0x[0-9a-f]*\)\] \(.*\)$/\1 \2 \3/p' "$work/res/boot.log")"
[[ -n "$e820_rows" ]] || { echo "record-kernel-trace.sh: no BIOS-e820 lines in the guest's boot log" >&2; exit 1; }
e820_json=()
while read -r start end type; do
  case "$type" in
    usable) t=usable ;; "ACPI data") t=acpi ;; "ACPI NVS") t=nvs ;; unusable) t=unusable ;; *) t=reserved ;;
  esac
  e820_json+=("$(printf '    ["0x%016x", "0x%016x", "%s"]' "$start" $(( end - start + 1 )) "$t")")
done <<< "$e820_rows"
memmap_source="BIOS-e820 lines of the recording's own boot (boot.log)"
if [[ -s "$work/res/firmware-memmap" ]]; then
  if diff <(awk '{ printf "%d %d\n", $1, $2 }' <<< "$e820_rows" | sort -n) \
          <(awk '{ printf "%d %d\n", $1, $2 }' "$work/res/firmware-memmap" | sort -n) > /dev/null; then
    memmap_source+=", equal to its /sys/firmware/memmap"
  else
    memmap_source+="; its /sys/firmware/memmap differs (see firmware-memmap in the script's work folder)"
  fi
fi
guest_kver="$(cat "$work/res/kernel-version")"
thp_mode="$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$work/res/thp-enabled")"
{
  echo "{"
  echo "  \"name\": $(json_str "$name"),"
  echo "  \"description\": $(json_str "QEMU q35 guest the $name recording ran on: $mem, $(cat "$work/res/nproc") CPU(s), Linux $guest_kver"),"
  echo "  \"cpus\": $(cat "$work/res/nproc"),"
  echo "  \"e820\": ["
  (IFS=$'\n'; echo "${e820_json[*]}" | sed '$!s/$/,/')
  echo "  ],"
  echo "  \"thp\": $([[ "$thp_mode" == never ]] && echo false || echo true),"
  echo "  \"thp_enabled\": $(json_str "$thp_mode"),"
  echo "  \"kernel\": $(json_str "$guest_kver"),"
  echo "  \"kernel_version\": $(json_str "$(sed -E 's/^([0-9]+\.[0-9]+).*/\1/' <<< "$guest_kver")"),"
  echo "  \"cmdline\": $(json_str "$(cat "$work/res/cmdline")"),"
  echo "  \"min_free_kbytes\": $(cat "$work/res/min_free_kbytes"),"
  echo "  \"memory_map_source\": $(json_str "$memmap_source"),"
  echo "  \"qemu\": $(json_str "$qemu_opts")"
  echo "}"
} > "$out/machine.json"

count() { grep -c " $1: " "$work/trace.ftrace" || true; }
{
  echo "kernel: $(cat "$work/res/kernel-version")"
  echo "cmdline: $(cat "$work/res/cmdline")"
  echo "qemu: $qemu_opts ($(qemu-system-x86_64 --version | head -n 1))"
  echo "kernel image: $(basename "$kernel")"
  echo "ring buffer per CPU: $buffer_kb kB; workload tmpfs: $tmpfs"
  echo "wall time of the QEMU run: $seconds s"
  echo "workload: $(basename "$workload")"
  echo "snapshot retries (before, after): $(cat "$work/res/before/.retries"), $(cat "$work/res/after/.retries")"
  for e in mm_page_alloc mm_page_free mm_page_free_batched mm_page_alloc_extfrag mm_page_alloc_zone_locked \
           mm_page_pcpu_drain kmalloc kfree kmem_cache_alloc kmem_cache_free page_fault_user \
           isolate_free_page isolate_free_page_ret mm_compaction_begin mm_compaction_end mm_compaction_migratepages \
           mm_compaction_wakeup_kcompactd mm_compaction_kcompactd_wake mm_vmscan_kswapd_wake mm_vmscan_kswapd_sleep \
           mm_vmscan_wakeup_kswapd mm_vmscan_direct_reclaim_begin mm_vmscan_direct_reclaim_end balance_pgdat_ret tracing_mark_write; do
    echo "events $e: $(count "$e")"
  done
  echo "lines: $(wc -l < "$work/trace.ftrace")"
  sed 's/^/ring buffer /' "$work/res/ring-buffer-stats"
} > "$out/recording.txt"
cat "$out/recording.txt"
echo "record-kernel-trace.sh: wrote $out ($(du -sh "$out" | cut -f1))"
