#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan + UBSan) in build-fuzz and runs each for
# SECONDS_PER_TARGET seconds (default 30). Exits non-zero on any finding: the reproducers are kept in
# build-fuzz/findings/<target>/ and their paths printed.
#   tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     TARGET: safetensors, ... (default: every
#                                                      tests/fuzz/fuzz_<target>.cpp)
# The corpus grows in build-fuzz/corpus/<target>/ across runs; tests/fuzz/seeds/<target>/ seeds it.
# FUZZ_MAX_LEN overrides -max_len (default: the largest seed, at least 4096); FUZZ_ARGS adds libFuzzer flags.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
seconds=${1:-30}
shift $(($# > 0 ? 1 : 0))
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "usage: tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2; }
tools/setup.sh || exit 1

targets=("$@")
if ((${#targets[@]} == 0)); then
  for f in tests/fuzz/fuzz_*.cpp; do
    t=${f##*/fuzz_}
    targets+=("${t%.cpp}")
  done
fi

build_dir=build-fuzz
if [[ ! -f $build_dir/build.ninja ]]; then
  # -O1, line tables only, asserts on: the build is most of a short run's time (a third less than -O2 -g),
  # and the -O1 target ran no fewer executions per second than the -O2 one.
  CC=clang CXX=clang++ meson setup "$build_dir" -Doptimization=1 -Ddebug=false -Db_ndebug=false -Dfuzz=true \
    -Dcuda=disabled -Dbench=disabled >/dev/null || exit 1
fi
# Only the fuzz executables and the libraries they link: the rest of the project is not built here.
ninja -C "$build_dir" -j"$(nproc)" "${targets[@]/#/tests/fuzz/fuzz_}" || exit 1

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
[[ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]] && export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
export OMP_NUM_THREADS=1
failed=()
for t in "${targets[@]}"; do
  corpus=$build_dir/corpus/$t
  findings=$build_dir/findings/$t
  log=$build_dir/fuzz-logs/$t.log
  seeds=tests/fuzz/seeds/$t
  mkdir -p "$corpus" "$findings" "${log%/*}"
  max_len=${FUZZ_MAX_LEN:-$( (echo 4096; [[ -d $seeds ]] && find "$seeds" -type f -printf '%s\n') | sort -n | tail -1)}
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len="$max_len"
        -artifact_prefix="$findings/" -print_final_stats=1)
  [[ -f tests/fuzz/$t.dict ]] && args+=(-dict="tests/fuzz/$t.dict")
  dirs=("$corpus")
  [[ -d $seeds ]] && dirs+=("$seeds")
  echo "fuzz: $t for ${seconds}s (max_len $max_len, corpus $corpus)"
  touch "$log.start"  # findings newer than this are this run's
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
  "$build_dir/tests/fuzz/fuzz_$t" "${args[@]}" ${FUZZ_ARGS:-} "${dirs[@]}" >"$log" 2>&1
  rc=$?
  grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | sed 's/^/  /'
  mapfile -t found < <(find "$findings" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) -newer "$log.start" 2>/dev/null)
  if ((rc != 0)) || ((${#found[@]} > 0)); then
    failed+=("$t")
    echo "fuzz: $t FOUND A PROBLEM (exit $rc); log: $log"
    tail -n 60 "$log" | sed 's/^/  | /'  # the report itself: CI keeps no build dir
    for f in "${found[@]}"; do echo "  reproducer: $f  (rerun: $build_dir/tests/fuzz/fuzz_$t $f)"; done
  fi
done

echo "fuzz: ${#targets[@]} target(s) run for ${seconds}s each, ${#failed[@]} with findings${failed[*]:+: ${failed[*]}}"
((${#failed[@]} == 0))
