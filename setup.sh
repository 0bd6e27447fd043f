#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# One entry point for a fresh Debian 12 machine: installs the missing Debian packages, builds, then
#   ./setup.sh quickstart   runs scenarios/quickstart.json
#   ./setup.sh test         runs the test suite (what CI runs)
#   ./setup.sh build        only installs and builds
#   ./setup.sh bench        builds and runs the benchmarks (prints the figures quoted in the notes)
#   ./setup.sh asan         builds with ASan + UBSan in build-asan and runs the test suite there
#   ./setup.sh fuzz         builds the libFuzzer target with clang in build-fuzz and fuzzes the scenario parser
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  cmake make pkg-config g++
  qt6-base-dev libqcustomplot-dev
  libsimgrid-dev libeigen3-dev zlib1g-dev libsqlite3-dev
  dataset-fashion-mnist
  openmpi-bin
)
BUILD_DIR=${DMLSIM_BUILD_DIR:-build}
JOBS=$(nproc)

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup.sh: installing ${missing[*]}" >&2
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

build() {
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

case "${1:-}" in
  quickstart)
    install_missing; build >&2
    "$BUILD_DIR/dmlsim" run scenarios/quickstart.json ;;
  test)
    install_missing; build
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" ;;
  build)
    install_missing; build ;;
  bench)
    install_missing; build >&2
    "$BUILD_DIR/bench/bench_quickstart" scenarios/quickstart.json; echo
    "$BUILD_DIR/bench/bench_strategies" fedavg; echo
    "$BUILD_DIR/bench/bench_strategies" ring; echo
    "$BUILD_DIR/bench/bench_sweep"; echo
    "$BUILD_DIR/bench/bench_platforms"; echo
    "$BUILD_DIR/bench/bench_compression"; echo
    "$BUILD_DIR/bench/bench_compression_runs" ;;
  asan)
    # The suite under AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan (README "Sanitizers and fuzzing").
    install_missing
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDMLSIM_SANITIZE=ON -DDMLSIM_TEST_PORTABLE_ISAS= >/dev/null
    cmake --build build-asan -j "$JOBS"
    # tests/asan.supp holds no suppression today (the file says why it once did); Qt Test's 5-minute limit per test
    # function grows like the other waits.
    scale=${DMLSIM_TEST_TIME_SCALE:-4}
    DMLSIM_TEST_TIME_SCALE=$scale QTEST_FUNCTION_TIMEOUT=${QTEST_FUNCTION_TIMEOUT:-$((300000 * scale))} \
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:detect_stack_use_after_return=0:suppressions=$PWD/tests/asan.supp} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
      ctest --test-dir build-asan --output-on-failure -j "$JOBS" ${CTEST_ARGS:-} ;;
  fuzz)
    # libFuzzer on the scenario parser for FUZZ_SECONDS (default 600), in build-fuzz, seeded with every shipped
    # scenario and lesson; new inputs go to fuzz-corpus/, findings to crash-* files.
    PACKAGES+=(clang)
    install_missing
    CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDMLSIM_LIBFUZZER=ON \
      -DDMLSIM_BUILD_GUI=OFF -DDMLSIM_TEST_PORTABLE_ISAS= >/dev/null
    cmake --build build-fuzz -j "$JOBS" --target fuzz_scenario
    mkdir -p fuzz-corpus
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} build-fuzz/tests/fuzz_scenario -max_total_time="${FUZZ_SECONDS:-600}" \
      -rss_limit_mb=4096 -timeout=30 -print_final_stats=1 fuzz-corpus scenarios scenarios/lessons ;;
  *)
    echo "usage: ./setup.sh quickstart|test|build|bench|asan|fuzz" >&2; exit 2 ;;
esac
