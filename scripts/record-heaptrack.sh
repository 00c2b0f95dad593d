#!/usr/bin/env bash
# Records a program with KDE heaptrack (Debian: apt-get install heaptrack) and stores the
# interpreted file as traces/heaptrack/heaptrack.NAME.zst (what `heaptrack PROGRAM` writes), and
# with --raw also the raw file (heaptrack -r: pointers kept) as traces/heaptrack/heaptrack.NAME.raw.zst.
#
#   scripts/record-heaptrack.sh NAME [--raw] -- PROGRAM [ARGS...]
#
# allocbench loads both forms (src/trace/heaptrack.ts); see docs/recording.md for what each keeps.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
name="${1:?usage: record-heaptrack.sh NAME [--raw] -- PROGRAM [ARGS...]}"
shift
raw=0
while [[ $# -gt 0 && "$1" != "--" ]]; do
  case "$1" in
    --raw) raw=1; shift ;;
    *) echo "record-heaptrack.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ "${1:-}" == "--" ]] && shift
[[ $# -gt 0 ]] || { echo "record-heaptrack.sh: no program given" >&2; exit 2; }
command -v heaptrack > /dev/null || { echo "record-heaptrack.sh: heaptrack not found (apt-get install -y heaptrack)" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="$root/traces/heaptrack"
mkdir -p "$out"

# heaptrack appends .zst (or .gz when built without zstd) to the -o name
heaptrack -o "$work/interpreted" "$@" > "$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
cp "$(ls "$work"/interpreted.*)" "$out/heaptrack.$name.zst"
if [[ $raw == 1 ]]; then
  heaptrack -r -o "$work/raw" "$@" > "$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
  cp "$(ls "$work"/raw.*)" "$out/heaptrack.$name.raw.zst"
fi
ls -l "$out"/heaptrack."$name".*
