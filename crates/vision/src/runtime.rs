//! ONNX Runtime: loading the shared library and a pool of single-threaded sessions per model.
//!
//! On 2-core machines one intra-op thread per session was 2–4x faster than two, so each model gets
//! as many sessions as there are cores, each with one thread, and work is spread across them. A
//! session is locked only for one `run` call, never for a whole request.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;

use crate::error::VisionError;

const LIB_NAME: &str = "libonnxruntime.so";

/// The inference runtime, reported as `tfss` by `/version`.
pub const RUNTIME_NAME: &str = "onnxruntime-1.31";

/// Finds the ONNX Runtime shared library: `explicit` (from `ORT_DYLIB_PATH`), else the set-up
/// script's `.ort/` folder in the working directory or beside the executable's workspace, else
/// system locations.
#[must_use]
pub fn find_library(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    let mut candidates: Vec<PathBuf> = vec![PathBuf::from(".ort").join(LIB_NAME)];
    if let Ok(exe) = std::env::current_exe() {
        // target/{release,debug}/oz-server → <repo>/.ort ; also <exe dir>/.ort and <exe dir>/lib
        for anc in exe.ancestors().skip(1).take(4) {
            candidates.push(anc.join(".ort").join(LIB_NAME));
            candidates.push(anc.join("lib").join(LIB_NAME));
        }
    }
    candidates.push(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.ort/libonnxruntime.so")));
    candidates.push(PathBuf::from("/usr/local/lib").join(LIB_NAME));
    candidates.push(PathBuf::from("/usr/lib").join(LIB_NAME));
    candidates.into_iter().find(|p| p.is_file())
}

static ENV: OnceLock<Result<Environment, String>> = OnceLock::new();

/// Loads ONNX Runtime once per process and returns its environment. Later calls return the first
/// result, whatever path they pass.
pub fn environment(library: Option<&Path>) -> Result<&'static Environment, VisionError> {
    let res = ENV.get_or_init(|| {
        let path = find_library(library).ok_or_else(|| {
            format!(
                "ONNX Runtime library not found (set ORT_DYLIB_PATH or run scripts/setup.sh, which puts it in .ort/{LIB_NAME})"
            )
        })?;
        let builder = ort::init_from(&path)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", path.display()))?;
        builder
            .with_name("openoz")
            .with_telemetry(false)
            .build()
            .map_err(|e| format!("cannot start ONNX Runtime from {}: {e}", path.display()))
    });
    res.as_ref().map_err(|e| VisionError::Model(e.clone()))
}

/// Several single-threaded sessions of one model.
pub struct ModelPool {
    name: String,
    /// The `model` label of its inference metric: the pipeline role (`detector`, `embedder`,
    /// `liveness`, `pose`), else the model's name.
    label: String,
    sessions: Vec<Mutex<Session>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for ModelPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelPool").field("name", &self.name).field("sessions", &self.sessions.len()).finish()
    }
}

/// Outputs of one run, copied out of ONNX Runtime: (name, shape, data).
pub type Outputs = Vec<(String, Vec<i64>, Vec<f32>)>;

impl ModelPool {
    /// Loads `size` sessions of the model file.
    pub fn load(env: &Environment, name: &str, path: &Path, size: usize) -> Result<Self, VisionError> {
        let mut sessions = Vec::with_capacity(size.max(1));
        for _ in 0..size.max(1) {
            let s = Session::builder(env)
                .and_then(|b| b.with_intra_threads(1).map_err(Into::into))
                .and_then(|b| b.with_inter_threads(1).map_err(Into::into))
                .and_then(|b| b.with_optimization_level(GraphOptimizationLevel::Level3).map_err(Into::into))
                .and_then(|mut b| b.commit_from_file(path))
                .map_err(|e| VisionError::Model(format!("cannot load model {name} ({}): {e}", path.display())))?;
            sessions.push(Mutex::new(s));
        }
        Ok(Self { name: name.to_string(), label: name.to_string(), sessions, next: AtomicUsize::new(0) })
    }

    /// Sets the `model` label of its inference timings (the pipeline role).
    #[must_use]
    pub fn labelled(mut self, label: &str) -> Self {
        self.label = label.to_string();
        self
    }

    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs the model on one float input `(name, shape, data)` and copies every output out.
    /// Takes the first free session (round robin), waiting on one only when all are busy.
    pub fn run(&self, input_name: &str, shape: &[usize], data: Vec<f32>) -> Result<Outputs, VisionError> {
        let n = self.sessions.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut guard = None;
        for i in 0..n {
            if let Ok(g) = self.sessions[(start + i) % n].try_lock() {
                guard = Some(g);
                break;
            }
        }
        let mut session = match guard {
            Some(g) => g,
            None => self.sessions[start % n]
                .lock()
                .map_err(|_| VisionError::Model(format!("{} session poisoned", self.name)))?,
        };
        let tensor = Tensor::from_array((shape.to_vec(), data))?;
        let started = std::time::Instant::now();
        let outputs = session.run(ort::inputs![input_name => tensor])?;
        metrics::histogram!(crate::INFERENCE_SECONDS, "model" => self.label.clone()).record(started.elapsed());
        let mut out = Vec::with_capacity(outputs.len());
        for (name, value) in outputs.iter() {
            let (shape, data) = value.try_extract_tensor::<f32>()?;
            out.push((name.to_string(), shape.iter().copied().collect(), data.to_vec()));
        }
        Ok(out)
    }

    /// The names of the model's inputs.
    pub fn input_names(&self) -> Vec<String> {
        match self.sessions.first().map(Mutex::lock) {
            Some(Ok(s)) => s.inputs().iter().map(|i| i.name().to_string()).collect(),
            _ => Vec::new(),
        }
    }
}

/// Finds an output by name.
pub fn output<'a>(outs: &'a Outputs, name: &str) -> Result<&'a [f32], VisionError> {
    outs.iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, _, d)| d.as_slice())
        .ok_or_else(|| VisionError::Model(format!("model output {name} missing")))
}
