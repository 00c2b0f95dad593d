# Guest workload for a 2-CPU guest (busybox sh, run by scripts/kernel-init.sh in /work, a tmpfs):
# build-compress twice at once, one job per CPU (so both CPUs' per-CPU page lists fill and drain):
# each builds a small source-like file tree, archives and compresses it, unpacks it again and
# sorts text; then both trees are deleted, caches dropped and memory compacted. Phase names go to
# the ftrace marker.
m() { echo "phase: $*" > "$TRACE_MARKER"; }
cd /work
m build-tree
for c in a b; do
  (i=0; while [ $i -lt 110 ]; do
     d=src$c/d$((i % 12)); mkdir -p $d
     seq $i $((i * 29 + 400)) > $d/f$i.txt
     dd if=/dev/urandom of=$d/b$i.bin bs=1k count=$(( (i * 7) % 96 + 1 )) 2> /dev/null
     i=$((i + 1)); done) &
done
wait
m tar-gzip
for c in a b; do (tar cf - src$c | gzip -6 > src$c.tar.gz) & done
wait
m unpack
for c in a b; do (mkdir dst$c; gunzip -c src$c.tar.gz | tar xf - -C dst$c) & done
wait
m sort
for c in a b; do
  (cat src$c/*/f*.txt | sort -n | uniq | wc -l
   sort -r dst$c/src$c/d1/*.txt > sorted$c.txt
   for d in dst$c/src$c/d*; do tar cf - $d | gzip -1 | wc -c; done) &
done
wait
m cleanup
rm -rf srca srcb dsta dstb srca.tar.gz srcb.tar.gz sorteda.txt sortedb.txt
sync
echo 3 > /proc/sys/vm/drop_caches
m compact
echo 1 > /proc/sys/vm/compact_memory
