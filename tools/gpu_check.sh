#!/usr/bin/env bash
# The GPU check of the CUDA backend (issue 7), in one script that fits 8 minutes on an H200.
#
#   tools/gpu_check.sh prepare   on the build machine (no GPU needed): builds build-gpu with the CUDA backend
#                                for sm_90 and portable x86-64-v3 host code, and copies the test and benchmark
#                                executables, with the Debian libraries they need that a CUDA image lacks,
#                                into .gpu/ (git-ignored). Prints the device tool call that runs the check.
#   tools/gpu_check.sh [run]     on the GPU machine, from the repository root with .gpu/ carried along:
#     1. nvidia-smi, and the executables' libraries resolved (cuDNN and cuBLAS from PyTorch's nvidia-* wheels
#        or the CUDA toolkit);
#     2. every GPU test: each op's CUDA kernel against the CPU kernel on fresh random data, each op through
#        the Tensor API with gradients, whole-network parity, and the 20-step training parity run against the
#        f64 PyTorch reference (tests/cuda/, tests/test_train_parity.cpp);
#     3. the per-layer benchmarks, ours against cuDNN and cuBLAS (bench/bench_cuda);
#     4. ResNet34-DLAS-A and IR-50-DLAS-A, training step and inference, ours against PyTorch on the same GPU
#        (bench/compare_torch.py --device cuda --quick);
#     and prints a short table last. Logs go to $OUT (the device tool's folder that comes back), else .gpu/out.
# The GPU machine cannot install anything, which is why the build happens here; its CPU is only assumed to
# have AVX2 (x86-64-v3), so the CPU reference kernels in the tests run there too.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mode=${1:-run}

if [[ "$mode" == prepare ]]; then
  set -e
  tools/setup.sh >/dev/null
  [[ -d /usr/local/cuda/bin ]] && export PATH="$PATH:/usr/local/cuda/bin"
  command -v nvcc >/dev/null || { echo "gpu_check prepare: nvcc not found" >&2; exit 1; }
  [[ -f build-gpu/build.ninja ]] || meson setup build-gpu --buildtype=release -Dcuda=enabled -Dgpu_arch=90 \
    -Dnative=false -Dcpp_args=-march=x86-64-v3 -Dbench=enabled >/dev/null
  ninja -C build-gpu tests/nn_tests bench/bench_cuda bench/compare_models
  rm -rf .gpu && mkdir -p .gpu/bin .gpu/lib .gpu/lib-fallback
  cp build-gpu/tests/nn_tests build-gpu/bench/bench_cuda build-gpu/bench/compare_models .gpu/bin/
  # Libraries that come from Debian's -dev packages (toml++, Google Benchmark, ...) go first on the library
  # path; the C++ and OpenMP runtimes and cudart go last, used only if the GPU machine has none of its own,
  # since an older libstdc++ ahead of the image's would break the newer libraries there (cuDNN).
  for bin in .gpu/bin/*; do
    ldd "$bin" | awk '/=> \//{print $3}'
  done | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so* | libm.so* | libdl.so* | librt.so* | libpthread.so* | ld-linux* | libz.so* | libcuda.so*) ;;
      libcublas* | libcudnn*) ;;  # too large to carry; the GPU machine has them (PyTorch's wheels)
      libstdc++* | libgcc_s* | libgomp* | libcudart*) cp -L "$lib" .gpu/lib-fallback/ ;;
      *) cp -L "$lib" .gpu/lib/ ;;
    esac
  done
  du -sh .gpu
  cat <<EOF
gpu_check prepare: done. On the GPU machine (device tool), from the repository root:
  run(command="tools/gpu_check.sh", carry=[".gpu"], timeout_s=540)
EOF
  exit 0
fi

[[ "$mode" == run ]] || { echo "usage: tools/gpu_check.sh [prepare|run]" >&2; exit 2; }
out=${OUT:-$root/.gpu/out}
mkdir -p "$out"
start=$(date +%s)
summary=()
note() { summary+=("$1"); echo "== $1"; }

echo "== GPU"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1 | tee "$out/gpu.txt" ||
  { echo "gpu_check: no NVIDIA GPU answers here (nvidia-smi failed)" >&2; exit 1; }
[[ -x .gpu/bin/nn_tests ]] || { echo "gpu_check: .gpu/bin is missing: run 'tools/gpu_check.sh prepare' here first and carry .gpu" >&2; exit 1; }

# cuDNN and cuBLAS: PyTorch's nvidia-* wheels if python3 has them, else the CUDA toolkit's.
libpath=$root/.gpu/lib
for d in $(python3 -c 'import glob, os, nvidia; [print(p) for b in nvidia.__path__ for p in glob.glob(os.path.join(b, "**", "lib"), recursive=True)]' 2>/dev/null); do
  libpath+=":$d"
done
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do [[ -d $d ]] && libpath+=":$d"; done
libpath+=":${LD_LIBRARY_PATH:-}:$root/.gpu/lib-fallback"
ours() { LD_LIBRARY_PATH=$libpath "$@"; }  # our executables only: python keeps its own library path
if ! ours ldd .gpu/bin/nn_tests | tee "$out/ldd.txt" | grep -q "not found"; then
  echo "== libraries resolved"
else
  grep "not found" "$out/ldd.txt"
  echo "gpu_check: missing libraries above (see $out/ldd.txt)" >&2
  exit 1
fi

# 2. Tests. Each test case prints its own relative errors on failure; the doctest summary line is kept.
export HARDTUNE_REFERENCE_DIR=$root/tests/reference
run_tests() {  # name, doctest filter...
  local name=$1
  shift
  timeout 240 env LD_LIBRARY_PATH="$libpath" .gpu/bin/nn_tests --no-intro --force-colors=false "$@" >"$out/$name.log" 2>&1
  local rc=$?
  local line
  line=$(grep -E '^\[doctest\] test cases:' "$out/$name.log" | tail -1)
  note "$name: rc $rc; ${line#\[doctest\] }"
  ((rc == 0)) || tail -40 "$out/$name.log"
}
run_tests tests_kernels --gpu '--source-file=*cuda/test_*' '--test-case-exclude=cuda_ops/*'
run_tests tests_ops --gpu '--test-case=cuda_ops/*'
run_tests tests_train_parity --gpu '--test-case=train_parity/cuda*'

# 3. Per-layer benchmarks: ours against cuDNN / cuBLAS.
timeout 150 env LD_LIBRARY_PATH="$libpath" .gpu/bin/bench_cuda --benchmark_min_time=0.2s \
  --benchmark_out="$out/bench_cuda.json" --benchmark_out_format=json >"$out/bench_cuda.log" 2>&1
note "bench_cuda: rc $? (per-layer table below)"

# 4. Whole networks against PyTorch on the same GPU.
mkdir -p build-gpu/bench && cp .gpu/bin/compare_models build-gpu/bench/compare_models
timeout 240 env LD_LIBRARY_PATH="$libpath" python3 bench/compare_torch.py --device cuda --quick --build-dir build-gpu \
  --json "$out/compare_torch.json" >"$out/compare_torch.log" 2>&1
note "compare_torch: rc $? (whole-network table below)"

echo
echo "================ summary ($(($(date +%s) - start)) s) ================"
head -2 "$out/gpu.txt" | tail -1
printf '%s\n' "${summary[@]}"
python3 tools/gpu_summary.py "$out/bench_cuda.json" 2>&1 || true
tail -25 "$out/compare_torch.log"
