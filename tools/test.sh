#!/usr/bin/env bash
# Sets up, builds with warnings as errors, and runs every test. Ends with "tests: N passed, M failed".
# DEBUG=1 builds the debug + AddressSanitizer/UBSan configuration instead.
set -uo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh || exit 1
[[ -d /usr/local/cuda/bin ]] && export PATH="$PATH:/usr/local/cuda/bin"

if [[ "${DEBUG:-0}" == 1 ]]; then
  build_dir=build-asan
  opts=(--buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true -Dbench=disabled -Dcuda=disabled)
else
  build_dir=build-test
  opts=(--buildtype=release -Dwerror=true)
fi
[[ -f "$build_dir/build.ninja" ]] || meson setup "$build_dir" "${opts[@]}" >/dev/null || exit 1
ninja -C "$build_dir" || exit 1

meson test -C "$build_dir" --print-errorlogs --num-processes 2
status=$?
log="$build_dir/meson-logs/testlog.json"
passed=$(grep -c '"result": "OK"' "$log" || true)
failed=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
skipped=$(grep -c '"result": "SKIP"' "$log" || true)
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit $status
