#!/bin/sh
# Regenerates the generated trace library in traces/gen/ (see traces/README.md). Deterministic:
# same generator code + spec + seed -> byte-identical CSV, and gzip -n stores no name or time.
# Run from the repository root: scripts/gen-traces.sh
set -eu
cd "$(dirname "$0")/.."
out=traces/gen
mkdir -p "$out"
rm -f "$out"/*.csv.gz
seed=1
# name                 spec: every default-set trace replays in well under a second per strategy
while read -r name spec; do
  [ -z "$name" ] && continue
  node bin/allocbench.js gen "$spec" --seed "$seed" --out "$out/$name.csv"
  gzip -9 -n -f "$out/$name.csv"
done <<'LIST'
page-mix-64M               page-mix:events=40000,mem=64M
kernel-mix-40k             kernel-mix:events=40000,objects=5000,kmallocs=1250,pagecache=2500,phase=10000
highalloc-stress-256M      highalloc-stress:mem=256M
fork-cow-40k               fork-cow:events=40000
binary-40k                 binary:events=40000
uniform-40k                uniform:events=40000
exponential-40k            exponential:events=40000
power-law-40k              power-law:events=40000
LIST
ls -l "$out"
