# Guest workload for a 1 GiB, 2-CPU guest (busybox sh, run by scripts/kernel-init.sh in /work, a
# tmpfs): fork-fragment on two CPUs at once, with transparent huge pages in it. Every phase runs
# two jobs in parallel (one per CPU, so both CPUs' per-CPU page lists fill and drain). It forks
# short shells, fills all but about 256 MiB with 4 MiB files on a huge=always tmpfs (order-9
# shmem folios), fills on with small files on /work (order-0 pages) until about 160 MiB are left,
# deletes every other small file so free memory is left in holes, creates many small files and
# directories (slab), forks pipelines, compacts memory, then writes 2 MiB files again (huge page
# allocations now need the compacted space or fall back to small pages), leaving its files in
# place. Phase names go to the ftrace marker.
# Nothing here can be reclaimed (no swap): with floors of 160 MiB and 80 MiB instead, the guest ran
# out of memory (OOM panic), probably because a fallback into another pageblock type boosts the
# watermarks (watermark_boost_factor 15000: up to 1.5x the high watermark, ~100 MiB here, on top of
# min_free_kbytes 44 MiB). Sized for a trace of a few MB: few processes (each fork and exec is
# ~100 page allocations), dd with a 64 KiB buffer, one rm per job.
m() { echo "phase: $*" > "$TRACE_MARKER"; }
memfree() { awk '/^MemFree/ { print $2 }' /proc/meminfo; }
cd /work
mkdir -p huge
mount -t tmpfs -o size=900m,huge=always tmpfs huge
m fork-shells
for c in a b; do
  (i=0; while [ $i -lt 10 ]; do sh -c 'x=$(seq 1 200 | wc -l); y=$(echo $x | tr 0-9 a-j)'; i=$((i + 1)); done) &
done
wait
m fill-huge
# 4 MiB files until about 256 MiB are left
for c in a b; do
  (i=0; free=$(memfree)
   while [ $i -lt 200 ] && [ "$free" -gt 262144 ]; do
     dd if=/dev/zero of=huge/$c$i bs=64k count=64 2> /dev/null
     i=$((i + 1))
     [ $((i % 4)) -eq 0 ] && free=$(memfree)
   done) &
done
wait
grep -E 'MemFree|Shmem:|ShmemHugePages' /proc/meminfo
m fill-small
for c in a b; do
  (i=0; free=$(memfree)
   while [ $i -lt 1200 ] && [ "$free" -gt 163840 ]; do
     dd if=/dev/zero of=$c$i bs=4k count=$(( (i % 5) * 16 + 32 )) 2> /dev/null
     i=$((i + 1))
     [ $((i % 8)) -eq 0 ] && free=$(memfree)
   done
   echo $i > n$c) &
done
wait
grep -E 'MemFree|Shmem:' /proc/meminfo
m free-every-other
for c in a b; do
  (n=$(cat n$c); i=0; l=; while [ $i -lt $n ]; do l="$l $c$i"; i=$((i + 2)); done; rm -f $l) &
done
wait
m small-files
for c in a b; do
  (i=0; while [ $i -lt 25 ]; do
     mkdir -p t$c/$i; j=0
     while [ $j -lt 40 ]; do echo $i.$j > t$c/$i/$j; j=$((j + 1)); done
     i=$((i + 1)); done) &
done
wait
m fork-pipelines
for c in a b; do
  (i=0; while [ $i -lt 10 ]; do seq 1 300 | sort -r | head -n 50 | tail -n 5 > /dev/null; i=$((i + 1)); done) &
done
wait
m compact
echo 1 > /proc/sys/vm/compact_memory
m refill-huge
for c in a b; do
  (i=0; while [ $i -lt 8 ]; do dd if=/dev/zero of=huge/r$c$i bs=64k count=32 2> /dev/null; i=$((i + 1)); done) &
done
wait
grep -E 'MemFree|Shmem:|ShmemHugePages' /proc/meminfo
grep -E 'thp_file_alloc|thp_file_fallback|compact_stall|compact_success' /proc/vmstat
# no cleanup: the after/ snapshots show the state the workload leaves (files still in tmpfs)
