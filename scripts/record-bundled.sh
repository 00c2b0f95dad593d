#!/usr/bin/env bash
# Re-records the bundled multithreaded recordings in traces/recorded/ with `allocbench record`
# (the LD_PRELOAD interposer, src/record/interposer.c). Inputs are generated here, so a rerun
# records the same programs on the same data (the traces differ in addresses and interleaving).
#
#   scripts/record-bundled.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="$root/traces/recorded"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
ab() { node "$root/bin/allocbench.js" "$@"; }

# 1. Perl ithreads: two interpreter threads each building, thinning and sorting a hash of generated
#    words (Debian's perl uses glibc malloc: every SV, hash entry and string buffer is a malloc)
cat > "$work/threads.pl" <<'PL'
use strict; use warnings; use threads;
sub work {
  my ($seed) = @_; my %h; my $x = $seed;
  for my $i (1 .. 40000) { $x = ($x * 1103515245 + 12345) % 2147483648; my $w = sprintf('%x', $x) x (1 + $x % 5); $h{$w}++; delete $h{$w} if $x % 3 == 0; }
  my $s = join(',', sort keys %h); return length $s;
}
my @t = map { threads->create(\&work, $_) } 1 .. 2;
my $n = 0; $n += $_->join for @t; print "$n\n";
PL
(cd "$work" && ab record --out "$out/perl-threads.csv.gz" -- /usr/bin/perl threads.pl > /dev/null)

# 2. a Python thread pool: 2 workers building and serialising JSON documents, PYTHONMALLOC=malloc
#    so that every object allocation is a malloc (CPython's own small-object arenas would hide them)
cat > "$work/pool.py" <<'PY'
import json, concurrent.futures as f
def work(i):
    doc = {'k%d' % j: [j, str(j) * (j % 7), {'x': j / 3}] for j in range(100 + i)}
    return len(json.dumps(json.loads(json.dumps(doc))))
with f.ThreadPoolExecutor(2) as e:
    print(sum(e.map(work, range(16))))
PY
(cd "$work" && PYTHONMALLOC=malloc ab record --out "$out/python-threadpool.csv.gz" -- /usr/bin/python3 pool.py)
ls -l "$out"
