#!/usr/bin/env bash
# Records a program's malloc/free/realloc calls with glibc mtrace and stores them as
# traces/NAME.mtrace.gz, with machine-specific directories stripped from the caller field.
#
#   scripts/record-mtrace.sh NAME [--stdin FILE] [--cwd DIR] -- PROGRAM [ARGS...]
#
# The program runs with LD_PRELOAD="libc_malloc_debug.so.0 mtrace-shim.so" MALLOC_TRACE=...; the
# shim's constructor calls mtrace(). Only the traced process is recorded: a program that forks or
# execs would have its children write to the same file, so record single-process programs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
name="${1:?usage: record-mtrace.sh NAME [--stdin FILE] [--cwd DIR] -- PROGRAM [ARGS...]}"
shift
stdin=/dev/null
cwd="$PWD"
while [[ $# -gt 0 && "$1" != "--" ]]; do
  case "$1" in
    --stdin) stdin="$(realpath "$2")"; shift 2 ;;
    --cwd) cwd="$2"; shift 2 ;;
    *) echo "record-mtrace.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ "${1:-}" == "--" ]] && shift
[[ $# -gt 0 ]] || { echo "record-mtrace.sh: no program given" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
gcc -shared -fPIC -O2 -o "$work/mtrace-shim.so" "$here/mtrace-shim.c"

# libc_malloc_debug.so.0 is found through the loader's search path (glibc >= 2.34).
(cd "$cwd" && LD_PRELOAD="libc_malloc_debug.so.0 $work/mtrace-shim.so" MALLOC_TRACE="$work/out.mtrace" "$@" < "$stdin" > "$work/stdout" 2> "$work/stderr") || {
  echo "record-mtrace.sh: program failed:" >&2; cat "$work/stderr" >&2; exit 1; }

# Keep the file name of each caller's object, drop its directory: "@ /usr/lib/x/libc.so.6:(sym+0x1)[0x2]"
# becomes "@ libc.so.6:(sym+0x1)[0x2]". Callers without a file ("@ [0x...]") are left alone.
sed -E 's#^@ [^[(]*/([^/[(]*:[[(])#@ \1#' "$work/out.mtrace" > "$work/clean.mtrace"

mkdir -p "$root/traces"
gzip -9 -n -c "$work/clean.mtrace" > "$root/traces/$name.mtrace.gz"
plus=$(grep -c ' + ' "$work/clean.mtrace" || true)
minus=$(grep -c ' - \|^- ' "$work/clean.mtrace" || true)
re=$(grep -c ' > \|^> ' "$work/clean.mtrace" || true)
echo "traces/$name.mtrace.gz: $(wc -l < "$work/clean.mtrace") lines, + $plus, - $minus, realloc $re, $(stat -c %s "$root/traces/$name.mtrace.gz") bytes gzipped"
