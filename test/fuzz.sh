#!/usr/bin/env bash
# Run every native Go fuzz target of the platform module for FUZZTIME each
# (default 5s: the short run inside `make test`; `make fuzz` runs longer).
# A target that finds a failing input fails the run; the input is kept in
# the package's testdata/fuzz folder so `go test` replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-5s}"
mapfile -t dirs < <(git grep -l '^func Fuzz' -- '*_test.go' ':!operator/*' ':!build/*' | xargs -r -n1 dirname | sort -u)
if [ "${#dirs[@]}" -eq 0 ]; then
  echo "fuzz: no fuzz targets"
  exit 0
fi
n=0
for dir in "${dirs[@]}"; do
  for target in $(go test -list '^Fuzz' "./$dir" | grep '^Fuzz' || true); do
    echo "fuzz: $dir $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 10s "./$dir" >/tmp/fuzz-$$.log 2>&1 || {
      cat /tmp/fuzz-$$.log
      rm -f /tmp/fuzz-$$.log
      echo "fuzz: $target in $dir failed; the failing input is under $dir/testdata/fuzz/$target"
      exit 1
    }
    n=$((n + 1))
  done
done
rm -f /tmp/fuzz-$$.log
echo "fuzz: $n targets ran for $fuzztime each without a failure"
