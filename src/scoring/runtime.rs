//! ONNX Runtime through `ort` (load-dynamic): finding the shared library, choosing the
//! execution provider, and building sessions.
//!
//! Nothing is downloaded at build or run time. The library is found, in this order:
//!
//! 1. `ORT_DYLIB_PATH`: the `libonnxruntime.so.<version>` file itself;
//! 2. `SCIML_DATA_ORT_DIR`: a folder holding `libonnxruntime.so*`;
//! 3. the folder of the `sciml-data` executable;
//! 4. the `onnxruntime` Python package of `$VIRTUAL_ENV`, then of `./.venv`, then of the first
//!    `python3` on `PATH` (`site-packages/onnxruntime/capi/`, where the PyPI wheels `onnxruntime`
//!    and `onnxruntime-gpu` put it).
//!
//! The CUDA and TensorRT providers are separate libraries
//! (`libonnxruntime_providers_cuda.so`, `libonnxruntime_providers_tensorrt.so`) that must sit
//! next to the main library, as in the `onnxruntime-gpu` wheel. A provider that was asked for
//! explicitly and cannot be used is an error naming what is missing; only `auto` falls back,
//! and it says why.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, bail};
use ort::environment::Environment;
use ort::ep::{self, ExecutionProviderDispatch};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

/// An execution provider choice (`--ep`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ep {
    /// ONNX Runtime's default CPU provider.
    Cpu,
    /// NVIDIA CUDA (needs onnxruntime-gpu's provider libraries, CUDA 13 and cuDNN 9).
    Cuda,
    /// NVIDIA TensorRT (also needs TensorRT's libnvinfer).
    Tensorrt,
    /// TensorRT, else CUDA, else CPU; says which one ran and why others were skipped.
    Auto,
}

impl Ep {
    pub fn name(self) -> &'static str {
        match self {
            Ep::Cpu => "cpu",
            Ep::Cuda => "cuda",
            Ep::Tensorrt => "tensorrt",
            Ep::Auto => "auto",
        }
    }
}

/// The main library, found by the documented search order.
#[derive(Debug, Clone)]
pub struct OrtLibrary {
    pub path: PathBuf,
    /// How it was found (`ORT_DYLIB_PATH`, `python package ...`).
    pub found_by: String,
}

impl OrtLibrary {
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
    /// The provider library `libonnxruntime_providers_<name>.so` next to the main one.
    pub fn provider_lib(&self, name: &str) -> PathBuf {
        self.dir()
            .join(format!("libonnxruntime_providers_{name}.so"))
    }
}

/// `libonnxruntime.so.<x.y.z>` (or `libonnxruntime.so`) in `dir`, the highest version first.
fn lib_in_dir(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n == "libonnxruntime.so" || n.starts_with("libonnxruntime.so."))
        })
        .collect();
    found.sort();
    found.pop()
}

/// `<venv>/lib/python3.*/site-packages/onnxruntime/capi/libonnxruntime.so.*`.
fn venv_package_lib(venv: &Path) -> Option<PathBuf> {
    let mut libs: Vec<PathBuf> = std::fs::read_dir(venv.join("lib"))
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .filter_map(|e| lib_in_dir(&e.path().join("site-packages/onnxruntime/capi")))
        .collect();
    libs.sort();
    libs.pop()
}

fn python_package_dir(python: &Path) -> Option<PathBuf> {
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import os, onnxruntime; print(os.path.dirname(onnxruntime.__file__))",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    Some(PathBuf::from(s.trim()).join("capi"))
}

/// Finds the ONNX Runtime library; the error lists every place that was looked at.
pub fn find_library() -> Result<OrtLibrary> {
    let mut looked = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(OrtLibrary {
                path: p,
                found_by: "ORT_DYLIB_PATH".into(),
            });
        }
        bail!(
            "ORT_DYLIB_PATH is set to {} but that file does not exist",
            p.display()
        );
    }
    let mut candidates: Vec<(PathBuf, String)> = Vec::new();
    if let Some(d) = std::env::var_os("SCIML_DATA_ORT_DIR") {
        candidates.push((PathBuf::from(d), "SCIML_DATA_ORT_DIR".into()));
    }
    if let Some(d) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        candidates.push((d, "the executable's folder".into()));
    }
    for (dir, how) in candidates {
        if let Some(p) = lib_in_dir(&dir) {
            return Ok(OrtLibrary {
                path: p,
                found_by: how,
            });
        }
        looked.push(format!("{} ({how})", dir.display()));
    }
    let mut pythons: Vec<(PathBuf, String)> = Vec::new();
    if let Some(v) = std::env::var_os("VIRTUAL_ENV") {
        pythons.push((PathBuf::from(v).join("bin/python"), "$VIRTUAL_ENV".into()));
    }
    pythons.push((PathBuf::from(".venv/bin/python"), "./.venv".into()));
    pythons.push((PathBuf::from("python3"), "python3 on PATH".into()));
    for (py, how) in pythons {
        if py.components().count() > 1 && !py.exists() {
            continue;
        }
        // A venv's site-packages are looked at directly (starting Python takes seconds).
        if let Some(venv) = py.parent().and_then(Path::parent)
            && let Some(p) = venv_package_lib(venv)
        {
            return Ok(OrtLibrary {
                path: p,
                found_by: format!("the onnxruntime Python package of {how}"),
            });
        }
        if let Some(dir) = python_package_dir(&py) {
            if let Some(p) = lib_in_dir(&dir) {
                return Ok(OrtLibrary {
                    path: p,
                    found_by: format!("the onnxruntime Python package of {how}"),
                });
            }
            looked.push(format!("{} ({how})", dir.display()));
        } else {
            looked.push(format!("{} has no onnxruntime package", py.display()));
        }
    }
    bail!(
        "ONNX Runtime (libonnxruntime.so) not found; looked in: {}. \
         Install it with `pip install onnxruntime` (CPU) or `onnxruntime-gpu` (CUDA), or set \
         ORT_DYLIB_PATH to the library file",
        looked.join("; ")
    )
}

static ENV: OnceLock<std::result::Result<(OrtLibrary, Environment), String>> = OnceLock::new();

/// Loads the library once per process and returns it with the ONNX Runtime environment.
pub fn environment() -> Result<&'static (OrtLibrary, Environment)> {
    ENV.get_or_init(|| {
        let mut lib = find_library().map_err(|e| format!("{e:#}"))?;
        if let Ok(p) = lib.path.canonicalize() {
            lib.path = p;
        }
        let builder = ort::init_from(&lib.path)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", lib.path.display()))?;
        let env = builder
            .with_name("sciml-data")
            .build()
            .map_err(|e| format!("cannot start ONNX Runtime from {}: {e}", lib.path.display()))?;
        Ok((lib, env))
    })
    .as_ref()
    .map_err(|e| anyhow!("{e}"))
}

/// What ran, and why the providers that were not used were skipped.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProviderChoice {
    /// `cpu`, `cuda` or `tensorrt`: the provider the session runs on.
    pub provider: String,
    /// The provider that was asked for (`auto` included).
    pub requested: String,
    /// One line per provider that `auto` skipped, with the reason.
    pub skipped: Vec<String>,
    pub library: String,
    pub library_found_by: String,
}

/// The reason a GPU provider cannot be used before even trying, or None.
fn missing_provider_library(lib: &OrtLibrary, ep: Ep) -> Option<String> {
    let (file, what) = match ep {
        Ep::Cuda => ("cuda", "CUDA"),
        Ep::Tensorrt => ("tensorrt", "TensorRT"),
        _ => return None,
    };
    let p = lib.provider_lib(file);
    if p.is_file() {
        None
    } else {
        Some(format!(
            "the {what} execution provider needs {} next to {} (it is in the onnxruntime-gpu \
             wheel; the onnxruntime wheel is CPU-only)",
            p.file_name().unwrap_or_default().to_string_lossy(),
            lib.path.display()
        ))
    }
}

fn dispatch(ep: Ep) -> ExecutionProviderDispatch {
    match ep {
        Ep::Cuda => ep::CUDA::default().build().error_on_failure(),
        Ep::Tensorrt => ep::TensorRT::default().build().error_on_failure(),
        Ep::Cpu | Ep::Auto => ep::CPU::default().build().error_on_failure(),
    }
}

fn build_session(model: &[u8], ep: Ep, threads: usize) -> Result<Session> {
    let (_, env) = environment()?;
    let mut b = Session::builder(env)
        .map_err(|e| anyhow!("{e}"))?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| anyhow!("{e}"))?;
    if threads > 0 {
        b = b.with_intra_threads(threads).map_err(|e| anyhow!("{e}"))?;
    }
    if ep != Ep::Cpu {
        b = b
            .with_execution_providers([dispatch(ep)])
            .map_err(|e| anyhow!("{e}"))?;
    }
    b.commit_from_memory(model).map_err(|e| anyhow!("{e}"))
}

/// A session on the requested provider. `auto` tries TensorRT, CUDA, then CPU.
pub fn session(model: &[u8], requested: Ep, threads: usize) -> Result<(Session, ProviderChoice)> {
    let (lib, _) = environment()?;
    let mut choice = ProviderChoice {
        provider: String::new(),
        requested: requested.name().into(),
        skipped: Vec::new(),
        library: lib.path.display().to_string(),
        library_found_by: lib.found_by.clone(),
    };
    let order: &[Ep] = match requested {
        Ep::Auto => &[Ep::Tensorrt, Ep::Cuda, Ep::Cpu],
        Ep::Cpu => &[Ep::Cpu],
        Ep::Cuda => &[Ep::Cuda],
        Ep::Tensorrt => &[Ep::Tensorrt],
    };
    for &ep in order {
        if let Some(why) = missing_provider_library(lib, ep) {
            if requested == Ep::Auto {
                choice.skipped.push(format!("{}: {why}", ep.name()));
                continue;
            }
            bail!("--ep {}: {why}", ep.name());
        }
        match build_session(model, ep, threads) {
            Ok(s) => {
                choice.provider = ep.name().into();
                return Ok((s, choice));
            }
            Err(e) if requested == Ep::Auto && ep != Ep::Cpu => {
                choice.skipped.push(format!("{}: {e:#}", ep.name()));
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot create an ONNX Runtime session on the {} provider",
                        ep.name()
                    )
                });
            }
        }
    }
    bail!("no execution provider could run the model")
}
