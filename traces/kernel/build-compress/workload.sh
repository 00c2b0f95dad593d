# Guest workload (busybox sh, run by scripts/kernel-init.sh in /work, a tmpfs): builds a small
# source-like file tree, archives and compresses it, unpacks it again, sorts text, deletes it all,
# drops caches and compacts memory. Phase names go to the ftrace marker.
m() { echo "phase: $*" > "$TRACE_MARKER"; }
cd /work
m build-tree
i=0
while [ $i -lt 160 ]; do
  d=src/d$((i % 12))
  mkdir -p $d
  seq $i $((i * 29 + 400)) > $d/f$i.txt
  dd if=/dev/urandom of=$d/b$i.bin bs=1k count=$(( (i * 7) % 96 + 1 )) 2> /dev/null
  i=$((i + 1))
done
m tar-gzip
tar cf - src | gzip -6 > src.tar.gz
m unpack
mkdir dst
gunzip -c src.tar.gz | tar xf - -C dst
m sort
cat src/*/f*.txt | sort -n | uniq | wc -l
sort -r dst/src/d1/*.txt > sorted.txt
for d in dst/src/d*; do tar cf - $d | gzip -1 | wc -c; done
m cleanup
rm -rf src dst src.tar.gz sorted.txt
sync
echo 3 > /proc/sys/vm/drop_caches
m compact
echo 1 > /proc/sys/vm/compact_memory
