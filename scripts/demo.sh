#!/usr/bin/env bash
# THE demo command: builds the tool and runs `sciml-data demo` on the embedded default.
#
#   bash scripts/demo.sh [demo options]      # e.g. --dir ./sciml-demo
#
# Offline after the first set-up: no credentials, no network at run time. Set-up (once, from
# PyPI): CMake >= 3.26 for the static HDF5 / netCDF-C libraries that the SLSTR and CBED
# readers link (a system cmake when new enough, else the wheel in .tools/cmake), and the
# ONNX Runtime CPU library for the demo's scoring step (.tools/onnxruntime).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bootstrap.sh
source scripts/bootstrap.sh
sciml_bootstrap_cmake
sciml_bootstrap_onnxruntime
exec cargo run --release --quiet -- demo "$@"
