# Guest workload (busybox sh, run by scripts/kernel-init.sh in /work, a tmpfs): forks short shells
# and pipelines (page tables, COW and anonymous faults, task structs from the slab), fills most of
# free memory with tmpfs files (movable pages) and deletes every other one so free memory is left
# in holes, then creates many small files and directories (dentries and inodes: reclaimable and
# unmovable slab pages, which must now fall back into movable pageblocks), compacts memory and
# allocates again into the compacted space, leaving its files in place. Phase names go to the ftrace marker.
m() { echo "phase: $*" > "$TRACE_MARKER"; }
cd /work
m fork-shells
i=0
while [ $i -lt 20 ]; do
  sh -c 'x=$(seq 1 200 | wc -l); y=$(echo $x | tr 0-9 a-j)'
  i=$((i + 1))
done
m fill
# until about 10 MiB are left: movable requests then exhaust the movable free lists and fall back
# into unmovable and reclaimable pageblocks (mm_page_alloc_extfrag)
i=0
free=$(awk '/^MemFree/ { print $2 }' /proc/meminfo)
while [ $i -lt 640 ] && [ "$free" -gt 10240 ]; do
  dd if=/dev/zero of=f$i bs=4k count=$(( (i % 5) * 16 + 32 )) 2> /dev/null
  i=$((i + 1))
  # reading MemFree forks awk (its own faults and page tables): only every 8th file
  [ $((i % 8)) -eq 0 ] && free=$(awk '/^MemFree/ { print $2 }' /proc/meminfo)
done
n=$i
grep -E 'MemFree|Shmem:' /proc/meminfo
m free-every-other
i=0
while [ $i -lt $n ]; do
  rm -f f$i
  i=$((i + 2))
done
m small-files
i=0
while [ $i -lt 40 ]; do
  mkdir -p t/$i
  j=0
  while [ $j -lt 40 ]; do echo $i.$j > t/$i/$j; j=$((j + 1)); done
  i=$((i + 1))
done
m fork-pipelines
i=0
while [ $i -lt 15 ]; do
  seq 1 300 | sort -r | head -n 50 | tail -n 5 > /dev/null
  i=$((i + 1))
done
m compact
echo 1 > /proc/sys/vm/compact_memory
m refill
i=0
while [ $i -lt 48 ]; do
  dd if=/dev/zero of=g$i bs=64k count=8 2> /dev/null
  i=$((i + 1))
done
grep -E 'MemFree|Shmem:' /proc/meminfo
# no cleanup: the after/ snapshots show the state the workload leaves (files still in tmpfs)
