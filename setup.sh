#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# One entry point for a fresh Debian 12 machine: installs the missing Debian packages, builds, then
#   ./setup.sh quickstart   runs scenarios/quickstart.json
#   ./setup.sh test         runs the test suite (what CI runs)
#   ./setup.sh build        only installs and builds
#   ./setup.sh bench        builds and runs the benchmarks (prints the figures quoted in the notes)
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
  *)
    echo "usage: ./setup.sh quickstart|test|build|bench" >&2; exit 2 ;;
esac
