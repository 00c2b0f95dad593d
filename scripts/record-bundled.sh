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

# 1. xz -T2: 4 MB of generated text in 256 KiB blocks, two compressing threads
python3 -c "
import random
r = random.Random(1)
for i in range(120000): print('%08x %s' % (r.getrandbits(32), 'x' * r.randint(0, 40)))
" > "$work/lines.txt"
(cd "$work" && ab record --out "$out/xz-T2.csv.gz" -- xz -T2 -3 --block-size=256KiB -k -c lines.txt > /dev/null)

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
