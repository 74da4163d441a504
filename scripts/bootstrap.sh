# shellcheck shell=bash
# Set-up helpers for scripts/test.sh (and anyone else who wants the test environment).
#
#   source scripts/bootstrap.sh
#   sciml_bootstrap_python      # .venv with tests/interop/requirements.txt installed
#   sciml_bootstrap_rust        # cargo, clippy and rustfmt present
#   sciml_bootstrap_cmake       # CMake >= 3.26 for the static HDF5 / netCDF-C build; exports CMAKE
#   sciml_bootstrap_onnxruntime # ONNX Runtime CPU library for verify --score; exports ORT_DYLIB_PATH
#   sciml_bootstrap_azurite     # Azurite (npm) in .tools/azurite for tests/gs_az.rs; exports AZURITE_BLOB_BIN
#
# Must be sourced from the repository root. Idempotent: a second call is a few
# milliseconds when nothing changed (a stamp file records what was installed).
#
# Environment knobs:
#   SCIML_DATA_PYTHON   interpreter used to create the venv (default: python3.11, else python3)
#   SCIML_DATA_VENV     where the venv lives (default: $PWD/.venv)

SCIML_REQUIREMENTS="tests/interop/requirements.txt"
SCIML_MIN_PY_MINOR=11 # Python 3.11 or newer (pandas 3 / numpy 2.4 need it)

sciml_log() { printf '[bootstrap] %s\n' "$*" >&2; }
sciml_die() {
	printf '[bootstrap] ERROR: %s\n' "$*" >&2
	return 1
}

# Prints the interpreter to build the venv with, or fails.
sciml_pick_python() {
	local cand
	for cand in "${SCIML_DATA_PYTHON:-}" python3.11 python3; do
		[ -n "$cand" ] || continue
		command -v "$cand" >/dev/null 2>&1 || continue
		if "$cand" -c "import sys, venv; sys.exit(0 if sys.version_info[:2] >= (3, $SCIML_MIN_PY_MINOR) else 1)" >/dev/null 2>&1; then
			command -v "$cand"
			return 0
		fi
	done
	sciml_die "no Python >= 3.$SCIML_MIN_PY_MINOR with the venv module found (set SCIML_DATA_PYTHON)"
}

# A fingerprint of what the venv should contain: requirements file + interpreter version.
sciml_requirements_stamp() {
	local venv_py="$1"
	{
		sha256sum "$SCIML_REQUIREMENTS" | cut -d' ' -f1
		"$venv_py" -c 'import sys; print(sys.version)'
	} | sha256sum | cut -d' ' -f1
}

sciml_bootstrap_python() {
	local venv="${SCIML_DATA_VENV:-$PWD/.venv}"
	local venv_py="$venv/bin/python"
	local stamp_file="$venv/.sciml-data-requirements.stamp"
	[ -f "$SCIML_REQUIREMENTS" ] || {
		sciml_die "$SCIML_REQUIREMENTS not found (run from the repository root)"
		return 1
	}

	# A venv whose interpreter no longer runs (moved, Python upgraded) is rebuilt.
	if [ -e "$venv" ] && ! "$venv_py" -c 'import sys' >/dev/null 2>&1; then
		sciml_log "existing venv at $venv is broken; recreating it"
		rm -rf -- "$venv"
	fi
	if [ ! -x "$venv_py" ]; then
		local py
		py="$(sciml_pick_python)" || return 1
		sciml_log "creating venv $venv with $py ($("$py" -c 'import sys; print(sys.version.split()[0])'))"
		"$py" -m venv "$venv" || {
			sciml_die "python -m venv failed"
			return 1
		}
	fi

	local want have=""
	want="$(sciml_requirements_stamp "$venv_py")"
	[ -f "$stamp_file" ] && have="$(cat "$stamp_file")"
	if [ "$want" = "$have" ] && "$venv_py" -c 'import zarr, xarray, numpy, pandas, pyarrow, duckdb, bagit, pytest, jsonschema' >/dev/null 2>&1; then
		sciml_log "venv up to date ($venv)"
		return 0
	fi

	sciml_log "installing $SCIML_REQUIREMENTS into $venv (quiet; takes ~1 min on a cold cache)"
	rm -f -- "$stamp_file"
	if ! "$venv_py" -m pip install --quiet --disable-pip-version-check --no-input \
		--retries 5 --timeout 120 -r "$SCIML_REQUIREMENTS"; then
		sciml_die "pip install -r $SCIML_REQUIREMENTS failed"
		return 1
	fi
	"$venv_py" -m pip check >/dev/null || {
		"$venv_py" -m pip check >&2 || true
		sciml_die "pip check reports broken requirements in $venv"
		return 1
	}
	"$venv_py" -c 'import zarr, xarray, numpy, pandas, pyarrow, duckdb, bagit, pytest, jsonschema' || {
		sciml_die "installed packages do not import"
		return 1
	}
	printf '%s\n' "$want" >"$stamp_file"
	sciml_log "venv ready: $("$venv_py" -c 'import zarr, xarray, pandas, pyarrow, duckdb; print("zarr", zarr.__version__, "xarray", xarray.__version__, "pandas", pandas.__version__, "pyarrow", pyarrow.__version__, "duckdb", duckdb.__version__)')"
}

# cargo must exist; clippy and rustfmt are added through rustup when missing.
sciml_bootstrap_rust() {
	command -v cargo >/dev/null 2>&1 || {
		sciml_die "cargo not found on PATH (install Rust >= 1.92 with rustup)"
		return 1
	}
	local comp sub
	for comp in clippy rustfmt; do
		sub="$comp"
		[ "$comp" = rustfmt ] && sub=fmt
		if ! cargo "$sub" --version >/dev/null 2>&1; then
			if command -v rustup >/dev/null 2>&1; then
				sciml_log "adding rustup component $comp"
				rustup component add "$comp" >&2 || {
					sciml_die "rustup component add $comp failed"
					return 1
				}
			else
				sciml_die "cargo $sub is missing and rustup is not available"
				return 1
			fi
		fi
	done
	sciml_log "$(cargo --version); $(rustc --version); $(cargo clippy --version); $(cargo fmt --version)"
}

# The Garage S3 server (crates.io `garage`) for tests/garage.rs: a real distributed
# S3-compatible store. Reused when already installed; otherwise built with cargo install
# (a long first build: about 20 minutes on 2 cores). Prints the binary's path.
SCIML_GARAGE_VERSION="2.5.0"
sciml_bootstrap_garage() {
	local bin="${GARAGE_BIN:-${CARGO_HOME:-$HOME/.cargo}/bin/garage}"
	if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "$SCIML_GARAGE_VERSION"; then
		sciml_log "garage $SCIML_GARAGE_VERSION present at $bin"
		return 0
	fi
	sciml_log "installing garage $SCIML_GARAGE_VERSION with cargo install (first time only; long build)"
	CARGO_TARGET_DIR="${TMPDIR:-/tmp}/sciml-garage-build" cargo install --locked --quiet \
		--version "$SCIML_GARAGE_VERSION" garage --no-default-features --features bundled-libs,lmdb,sqlite || {
		sciml_die "cargo install garage failed"
		return 1
	}
	rm -rf "${TMPDIR:-/tmp}/sciml-garage-build"
}

# Azurite, Microsoft's Azure Storage emulator, for tests/gs_az.rs (az:// repositories): the
# pinned npm package in .tools/azurite (once; reused when that version is there). Needs node
# and npm (Azurite 3.37 declares node >= 22 but its blob service runs on node 20). Exports
# AZURITE_BLOB_BIN, which the tests read. (The GCS emulator of the same tests,
# fake-gcs-server, comes with the venv: tests/interop/requirements.txt.)
SCIML_AZURITE_VERSION="3.37.0"
sciml_bootstrap_azurite() {
	local tools="${SCIML_DATA_TOOLS:-$PWD/.tools}/azurite"
	local bin="$tools/node_modules/.bin/azurite-blob"
	local have=""
	have="$(cat "$tools/node_modules/azurite/package.json" 2>/dev/null | sed -n 's/^[[:space:]]*"version": "\([^"]*\)".*/\1/p' | head -n1 || true)"
	if [ -x "$bin" ] && [ "$have" = "$SCIML_AZURITE_VERSION" ]; then
		export AZURITE_BLOB_BIN="$bin"
		sciml_log "azurite $SCIML_AZURITE_VERSION present at $bin"
		return 0
	fi
	command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 || {
		sciml_die "node and npm are needed for the Azurite emulator (apt-get install nodejs npm)"
		return 1
	}
	sciml_log "installing azurite $SCIML_AZURITE_VERSION from npm into $tools (for tests/gs_az.rs)"
	rm -rf -- "$tools"
	mkdir -p "$tools"
	npm install --prefix "$tools" --no-audit --no-fund --loglevel=error \
		"azurite@$SCIML_AZURITE_VERSION" >&2 || {
		sciml_die "npm install azurite@$SCIML_AZURITE_VERSION failed"
		return 1
	}
	[ -x "$bin" ] || {
		sciml_die "$bin is missing after npm install"
		return 1
	}
	export AZURITE_BLOB_BIN="$bin"
	sciml_log "using AZURITE_BLOB_BIN=$bin"
}

# CMake >= 3.26 for the static HDF5 2.x and netCDF-C builds behind the `hdf5-metno` and
# `netcdf` crates (their build scripts run CMake; Debian bookworm ships 3.25, which fails).
# Uses a system cmake when it is new enough; otherwise installs the pinned PyPI `cmake`
# wheel into .tools/cmake (a 30 MB venv, once). Exports CMAKE, which the `cmake` crate reads.
SCIML_CMAKE_VERSION="4.1.2"
sciml_cmake_ok() {
	[ -x "$1" ] || return 1
	"$1" --version 2>/dev/null | head -n1 | awk 'NR == 1 {split($3, v, "."); ok = (v[1] > 3) || (v[1] == 3 && v[2] >= 26)} END {exit !ok}'
}
sciml_bootstrap_cmake() {
	if [ -n "${CMAKE:-}" ] && sciml_cmake_ok "$CMAKE"; then
		sciml_log "using CMAKE=$CMAKE ($("$CMAKE" --version | head -n1))"
		return 0
	fi
	local sys
	sys="$(command -v cmake 2>/dev/null || true)"
	if [ -n "$sys" ] && sciml_cmake_ok "$sys"; then
		export CMAKE="$sys"
		sciml_log "using system $("$sys" --version | head -n1)"
		return 0
	fi
	local tools="${SCIML_DATA_TOOLS:-$PWD/.tools}/cmake"
	if ! sciml_cmake_ok "$tools/bin/cmake"; then
		local py
		py="$(sciml_pick_python)" || return 1
		sciml_log "installing cmake $SCIML_CMAKE_VERSION from PyPI into $tools (needed by the static HDF5 build)"
		rm -rf -- "$tools"
		"$py" -m venv "$tools" && "$tools/bin/python" -m pip install --quiet --disable-pip-version-check \
			--no-input --retries 5 --timeout 120 "cmake==$SCIML_CMAKE_VERSION" || {
			sciml_die "could not install cmake into $tools"
			return 1
		}
	fi
	export CMAKE="$tools/bin/cmake"
	sciml_log "using CMAKE=$CMAKE ($("$CMAKE" --version | head -n1))"
}

# ONNX Runtime for `verify --score` and the demo's scoring step: the CPU build's shared
# library from the pinned PyPI `onnxruntime` wheel, in .tools/onnxruntime (once, 20 MB).
# Exports ORT_DYLIB_PATH (ort loads the library at run time; nothing is linked or downloaded
# at build time). Skipped when ORT_DYLIB_PATH already names a file.
SCIML_ORT_VERSION="1.32.0"
sciml_bootstrap_onnxruntime() {
	if [ -n "${ORT_DYLIB_PATH:-}" ] && [ -f "$ORT_DYLIB_PATH" ]; then
		sciml_log "using ORT_DYLIB_PATH=$ORT_DYLIB_PATH"
		return 0
	fi
	local tools="${SCIML_DATA_TOOLS:-$PWD/.tools}/onnxruntime"
	local lib
	lib="$(ls "$tools"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so."$SCIML_ORT_VERSION" 2>/dev/null | head -n1 || true)"
	if [ -z "$lib" ]; then
		local py
		py="$(sciml_pick_python)" || return 1
		sciml_log "installing onnxruntime $SCIML_ORT_VERSION from PyPI into $tools (for verify --score)"
		rm -rf -- "$tools"
		"$py" -m venv "$tools" && "$tools/bin/python" -m pip install --quiet --disable-pip-version-check \
			--no-input --retries 5 --timeout 120 "onnxruntime==$SCIML_ORT_VERSION" || {
			sciml_die "could not install onnxruntime into $tools"
			return 1
		}
		lib="$(ls "$tools"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so."$SCIML_ORT_VERSION" | head -n1)"
	fi
	export ORT_DYLIB_PATH="$lib"
	sciml_log "using ORT_DYLIB_PATH=$ORT_DYLIB_PATH"
}
