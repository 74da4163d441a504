#!/usr/bin/env bash
# THE test command: sets everything up on a fresh machine and runs the whole suite.
#
#   bash scripts/test.sh
#
# 1. set-up: Python venv at .venv with tests/interop/requirements.txt (reused when current),
#    clippy/rustfmt present, CMake >= 3.26 for the static HDF5 / netCDF-C build (.tools/cmake),
#    the Garage S3 server, Azurite (npm, .tools/azurite); moto and fake-gcs-server come with the venv
# 2. cargo build                    (debug binary target/debug/sciml-data)
# 3. cargo test                     (all Rust tests; the venv is first on PATH)
# 4. pytest tests/interop           (zarr-python, xarray, pyarrow, DuckDB, bagit-python,
#                                    sha256sum and jsonschema read what the binary wrote)
# 5. cargo clippy --all-targets -- -D warnings
# 6. cargo fmt --check
#
# Steps 3-6 all run even when an earlier one fails, so one run reports every problem; the
# script exits non-zero if any step failed (a failed build stops it at once).
# Needs: cargo (Rust >= 1.92), Python >= 3.11, node + npm, network access to PyPI and npm on
# first run, and
# ../shared/realdata beside the repository for the interop tests.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

# shellcheck source=scripts/bootstrap.sh
source scripts/bootstrap.sh

SCRIPT_START=$SECONDS
declare -a RESULTS=()
FAILED=0

header() {
	printf '\n==================================================================\n'
	printf '== %s\n' "$*"
	printf '==================================================================\n'
}

# run_step NAME CMD...: runs CMD, records PASS/FAIL with its duration; never exits.
run_step() {
	local name="$1"
	shift
	header "$name"
	printf '$ %s\n' "$*"
	local t0=$SECONDS rc=0
	"$@" || rc=$?
	local dt=$((SECONDS - t0))
	if [ "$rc" -eq 0 ]; then
		RESULTS+=("PASS  ${dt}s  $name")
		printf -- '-- %s: PASS (%ss)\n' "$name" "$dt"
	else
		RESULTS+=("FAIL  ${dt}s  $name (exit $rc)")
		printf -- '-- %s: FAIL (exit %s, %ss)\n' "$name" "$rc" "$dt"
		FAILED=1
	fi
	return 0
}

summary() {
	header "Summary ($((SECONDS - SCRIPT_START))s total)"
	local r
	for r in "${RESULTS[@]}"; do printf '  %s\n' "$r"; done
	if [ "$FAILED" -ne 0 ]; then
		printf '\nRESULT: FAILED\n'
	else
		printf '\nRESULT: OK\n'
	fi
}

# pytest exits 5 when it collected no tests: that is a failure here, never a pass.
run_pytest() {
	local rc=0
	# Temporary files (~1 GB) under target/pytest-tmp, which pytest empties at each start,
	# removed after a pass and kept after a failure, for a look; by default pytest keeps the
	# last three runs' in /tmp, and CI's disk is shared.
	local args=(tests/interop -p no:cacheprovider -ra --basetemp "$REPO_ROOT/target/pytest-tmp" "$@")
	echo "+ $VENV/bin/python -m pytest ${args[*]}"
	"$VENV/bin/python" -m pytest "${args[@]}" || rc=$?
	if [ "$rc" -eq 0 ]; then
		rm -rf "$REPO_ROOT/target/pytest-tmp"
	fi
	if [ "$rc" -eq 5 ]; then
		echo "pytest collected no tests (exit 5): treating as failure" >&2
	fi
	return "$rc"
}

# ---------------------------------------------------------------------------------------
header "Environment"
echo "repo:    $REPO_ROOT"
echo "host:    $(uname -srm), $(nproc) cores"
echo "CI:      ${CI:-false}"
echo "disk:    $(df -h . | awk 'NR==2 {print $4 " free of " $2 " on " $6}')"

export SCIML_DATA_VENV="${SCIML_DATA_VENV:-$REPO_ROOT/.venv}"
VENV="$SCIML_DATA_VENV"
export PYTHONDONTWRITEBYTECODE=1 # keep __pycache__ out of the working tree
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"
CARGO_LOCKED=()
if [ "${CI:-}" = "true" ] && [ -f Cargo.lock ]; then
	CARGO_LOCKED=(--locked) # CI builds exactly the committed lock file
	export CARGO_INCREMENTAL=0
fi

run_step "Set-up: Python venv ($VENV)" sciml_bootstrap_python
run_step "Set-up: Rust toolchain" sciml_bootstrap_rust
run_step "Set-up: CMake >= 3.26 (static HDF5 / netCDF-C build)" sciml_bootstrap_cmake
run_step "Set-up: Garage S3 server (tests/garage.rs)" sciml_bootstrap_garage
run_step "Set-up: Azurite Azure Storage emulator (tests/gs_az.rs)" sciml_bootstrap_azurite
if [ "$FAILED" -ne 0 ]; then
	summary
	exit 1
fi

# The venv first on PATH for everything below: Rust tests may call python3 / bagit.py.
export PATH="$VENV/bin:$PATH"

run_step "cargo build" cargo build "${CARGO_LOCKED[@]}"
if [ "$FAILED" -ne 0 ]; then
	echo "build failed; not running the tests" >&2
	summary
	exit 1
fi
export SCIML_DATA_BIN="$REPO_ROOT/target/debug/sciml-data"
if [ ! -x "$SCIML_DATA_BIN" ]; then
	echo "cargo build succeeded but $SCIML_DATA_BIN is missing" >&2
	exit 1
fi

run_step "cargo test" cargo test "${CARGO_LOCKED[@]}" --no-fail-fast
run_step "pytest tests/interop (SCIML_DATA_BIN=$SCIML_DATA_BIN)" run_pytest
run_step "cargo clippy --all-targets -- -D warnings" cargo clippy "${CARGO_LOCKED[@]}" --all-targets -- -D warnings
run_step "cargo fmt --check" cargo fmt --check

summary
[ "$FAILED" -eq 0 ]
