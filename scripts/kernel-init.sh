#!/bin/busybox sh
# /init of the busybox initramfs that scripts/record-kernel-trace.sh boots under QEMU.
# Mounts the pseudo file systems, notes the machine (boot log, firmware memory map, CPUs, kernel,
# command line, min_free_kbytes), snapshots the allocator state, records the kmem and
# page-fault tracepoints around /workload.sh, then writes everything as a tar stream to the
# virtio disk (/dev/vda) and powers off. Runs as PID 1 with busybox as the only userland.
# /recording.conf (written by the script) sets BUFFER_KB (ring buffer per CPU) and TMPFS_SIZE.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
T=/sys/kernel/tracing
OUT=/out
BUFFER_KB=65536
TMPFS_SIZE=160m
. /recording.conf
mkdir -p $OUT/before $OUT/after /work

log() { echo "kernel-init: $*" > /dev/console; }

# virtio-blk and the parts of it the kernel builds as modules, dependencies first (load-order)
for m in $(cat /lib/modules/load-order); do
  insmod /lib/modules/$m.ko || log "insmod $m failed"
done

# The workload's files live on a tmpfs (shmem pages are movable, like page cache); the initramfs
# root itself holds only busybox and the modules.
mount -t tmpfs -o size=$TMPFS_SIZE tmpfs /work

# One state per snapshot, read at one traced instant. Tracing stays on through both snapshots, and
# /bin/snapshot-read (scripts/snapshot-read.c) writes the marker `snapshot: before` / `snapshot:
# after` into trace_marker and at once reads /proc/buddyinfo, then pagetypeinfo, zoneinfo, the
# debugfs indices, vmstat, meminfo, slabinfo, kpageflags (one u64 of KPF_* bits per pfn: KPF_BUDDY
# marks every page of a free block) and kpagecount (one u64 reference count per pfn), with nothing
# forked or allocated between the marker and the buddyinfo read (it opens the files and warms the
# seq_file buffers first). The replay runs the events between the last marker of each snapshot
# (src/trace/snapshot-window.ts): the snapshot's own processes allocate inside the trace, not in
# an untraced gap. Those reads still take a while, so buddyinfo is read once more at their end
# and the snapshot retried until nothing moved (the indices and page flags must belong to that
# buddyinfo; a test compares them digit for digit); the replay uses the last marker, the one of
# the kept reads. kpageflags and kpagecount are overwritten in place into files that
# make_kpage_files created for BOTH snapshots before tracing began: reading them then allocates no
# page-cache pages (256 pages on a 256 MiB guest, 1024 on 1 GiB). They are gzipped at the end.
make_kpage_files() {
  for s in before after; do
    cat /proc/kpageflags > $OUT/$s/kpageflags
    cat /proc/kpagecount > $OUT/$s/kpagecount
  done
}
snapshot() {
  d=$OUT/$1
  i=0
  while [ $i -lt 50 ]; do
    /bin/snapshot-read -m "snapshot: $1" /proc/buddyinfo $d/buddyinfo /proc/pagetypeinfo $d/pagetypeinfo \
      /proc/zoneinfo $d/zoneinfo /sys/kernel/debug/extfrag/unusable_index $d/unusable_index \
      /sys/kernel/debug/extfrag/extfrag_index $d/extfrag_index /proc/vmstat $d/vmstat /proc/meminfo $d/meminfo \
      /proc/slabinfo $d/slabinfo /proc/kpageflags $d/kpageflags /proc/kpagecount $d/kpagecount \
      /proc/buddyinfo $d/buddyinfo.again || { log "snapshot-read failed"; echo > $d/buddyinfo.again; }
    if [ -s $d/buddyinfo ] && cmp -s $d/buddyinfo $d/buddyinfo.again; then break; fi
    i=$((i + 1))
  done
  rm -f $d/buddyinfo.again
  echo "$i" > $d/.retries
}

echo 0 > $T/tracing_on
echo nop > $T/current_tracer
# 64 MiB per CPU holds a few hundred thousand events without overrun (checked in stats below)
echo $BUFFER_KB > $T/buffer_size_kb
# one clock for all CPUs, so the merged trace of several CPUs is in time order
echo global > $T/trace_clock
echo > $T/trace
for e in mm_page_alloc mm_page_free mm_page_free_batched mm_page_alloc_extfrag mm_page_alloc_zone_locked \
         mm_page_pcpu_drain kmalloc kfree kmem_cache_alloc kmem_cache_free; do
  echo 1 > $T/events/kmem/$e/enable || log "cannot enable kmem:$e"
done
echo 1 > $T/events/exceptions/page_fault_user/enable || log "cannot enable exceptions:page_fault_user"
# Compaction takes its migration targets straight off the free lists with __isolate_free_page()
# (mm/page_alloc.c, called from mm/compaction.c, another file, so never inlined there; 6.1 and
# 6.12), which has no mm_page_alloc tracepoint; only the frees of those pages are traced. A kprobe
# on its entry (the block: struct page pointer and order; pfn = (page - vmemmap_base) / 64,
# struct page is 64 bytes) and a kretprobe on its result (1 << order, or 0 when the watermark
# check refused the block) record each isolation. The compaction tracepoints say when it ran.
echo 'p:allocbench/isolate_free_page __isolate_free_page page=%di:x64 order=%si:u32 vmemmap_base=@vmemmap_base:x64' >> $T/kprobe_events \
  || log "cannot add kprobe allocbench/isolate_free_page"
echo 'r:allocbench/isolate_free_page_ret __isolate_free_page ret=$retval:s32' >> $T/kprobe_events \
  || log "cannot add kretprobe allocbench/isolate_free_page_ret"
echo 1 > $T/events/allocbench/enable || log "cannot enable allocbench kprobes"
for e in mm_compaction_begin mm_compaction_end mm_compaction_migratepages mm_compaction_wakeup_kcompactd \
         mm_compaction_kcompactd_wake; do
  echo 1 > $T/events/compaction/$e/enable || log "cannot enable compaction:$e"
done
# While kswapd balances a node (balance_pgdat(): set_reclaim_active() .. clear_reclaim_active(),
# mm/vmscan.c 5.14+), ZONE_RECLAIM_ACTIVE caps every per-CPU list of its zones at batch << 2
# (nr_pcp_high(), mm/page_alloc.c), so the replay must know when kswapd ran: mm_vmscan_kswapd_wake
# comes right before balance_pgdat(), a kretprobe on balance_pgdat() marks its end (it is static:
# absent from kallsyms when inlined; then mm_vmscan_kswapd_sleep, up to HZ/10 later, is the end).
for e in mm_vmscan_kswapd_wake mm_vmscan_kswapd_sleep mm_vmscan_wakeup_kswapd mm_vmscan_direct_reclaim_begin \
         mm_vmscan_direct_reclaim_end; do
  echo 1 > $T/events/vmscan/$e/enable || log "cannot enable vmscan:$e"
done
echo 'r:allocbench/balance_pgdat_ret balance_pgdat ret=$retval:s32' >> $T/kprobe_events \
  || log "cannot add kretprobe allocbench/balance_pgdat_ret"
echo 1 > $T/events/allocbench/enable || log "cannot enable allocbench kprobes"

# the machine: recorded once, before the before-snapshot
uname -r > $OUT/kernel-version
cat /proc/cmdline > $OUT/cmdline
nproc > $OUT/nproc
cat /proc/sys/vm/min_free_kbytes > $OUT/min_free_kbytes
cat /sys/kernel/mm/transparent_hugepage/enabled > $OUT/thp-enabled
dmesg > $OUT/boot.log
for e in /sys/firmware/memmap/*; do
  [ -d $e ] && echo "$(cat $e/start) $(cat $e/end) $(cat $e/type)"
done > $OUT/firmware-memmap
# the kprobed function and the symbol it reads, as the running kernel has them (absent = inlined)
grep -E ' (__isolate_free_page|isolate_freepages_block|fast_isolate_freepages|balance_pgdat|vmemmap_base)$' /proc/kallsyms \
  > $OUT/kallsyms
cat $T/kprobe_events > $OUT/kprobe_events
make_kpage_files
echo 1 > $T/tracing_on
snapshot before

export TRACE_MARKER=$T/trace_marker
echo "phase: workload-start" > $TRACE_MARKER
log "running workload"
sh /workload.sh > $OUT/workload.log 2>&1
echo "workload exit $?" >> $OUT/workload.log
echo "phase: workload-end" > $TRACE_MARKER
# An idle pause before the after-state, traced like the rest: 6.7+ kernels auto-tune pcp->high
# and decay it by an eighth a second back to high_min when idle (mm/page_alloc.c
# decay_pcp_high(), from vmstat_update()), so the after-state is the idle machine's rather than
# whatever the last second of the workload left (test/pcp.test.ts checks high == high_min).
sleep 15

snapshot after
echo 0 > $T/tracing_on
for c in $T/per_cpu/cpu*; do
  echo "${c##*/}"
  cat $c/stats
done > $OUT/ring-buffer-stats
log "saving trace"
gzip -9 $OUT/before/kpageflags $OUT/before/kpagecount $OUT/after/kpageflags $OUT/after/kpagecount
# compressed in the guest so the text never sits uncompressed in guest RAM
gzip -1 < $T/trace > $OUT/trace.ftrace.gz
log "writing results to /dev/vda"
i=0
while [ ! -b /dev/vda ] && [ $i -lt 30 ]; do sleep 1; i=$((i + 1)); done
tar cf /dev/vda -C $OUT .
sync
log "done"
poweroff -f
