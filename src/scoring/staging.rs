//! Model input buffers, filled by the reader threads and handed to the model thread.
//!
//! On the CUDA provider a batch's input must reach the GPU before the model can run. From
//! ordinary (pageable) host memory the CUDA driver copies it through a bounce buffer, at a
//! fraction of the bus's speed and competing with the readers for memory bandwidth. A
//! [`Staging`] pool holds a few buffers of page-locked ("pinned") host memory, allocated by
//! ONNX Runtime's own CUDA pinned allocator, that the GPU reads by DMA. Readers write the
//! batch straight into a free one ([`Staging::buffer`]); when the batch has run and is
//! dropped, the buffer goes back to the pool by itself.
//!
//! The pool never blocks a reader: when every pinned buffer is in use (or the shape asked for
//! is not the pool's, such as a last, shorter batch), the reader gets ordinary host memory,
//! which the model runs exactly the same way. On the CPU provider every buffer is host memory.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, channel};

use anyhow::{Result, anyhow};
use ort::memory::{AllocationDevice, Allocator, AllocatorType, MemoryInfo, MemoryType};
use ort::session::{Session, SessionInputValue};
use ort::value::{Tensor, TensorRef};

/// One model input's values: ordinary host memory or a pinned buffer of a [`Staging`] pool.
pub enum Input {
    Host(Vec<f32>),
    Pinned(Pinned),
}

/// A pinned buffer on loan from a [`Staging`] pool; it returns there when dropped.
pub struct Pinned {
    tensor: Option<Tensor<f32>>,
    len: usize,
    back: Sender<Tensor<f32>>,
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if let Some(t) = self.tensor.take() {
            // The pool may be gone already (scoring ended): the tensor is then freed.
            let _ = self.back.send(t);
        }
    }
}

impl From<Vec<f32>> for Input {
    fn from(v: Vec<f32>) -> Input {
        Input::Host(v)
    }
}

impl Input {
    pub fn len(&self) -> usize {
        match self {
            Input::Host(v) => v.len(),
            Input::Pinned(p) => p.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_pinned(&self) -> bool {
        matches!(self, Input::Pinned(_))
    }

    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        match self {
            Input::Host(v) => v,
            Input::Pinned(p) => {
                let t = p.tensor.as_mut().expect("a loaned buffer holds its tensor");
                // SAFETY: the tensor was allocated by ONNX Runtime's CUDA pinned allocator
                // with `len` float32 elements (`Staging::pinned`); pinned memory is host
                // memory, readable and writable by the CPU; the slice borrows `self`
                // mutably, so nothing else reaches the tensor meanwhile.
                unsafe { std::slice::from_raw_parts_mut(t.data_ptr_mut().cast::<f32>(), p.len) }
            }
        }
    }

    /// The value to pass to `Session::run` for an input of `shape` (which must be the
    /// buffer's length; a pinned buffer's shape is the pool's).
    pub(crate) fn session_value(&self, shape: &[i64]) -> Result<SessionInputValue<'_>> {
        match self {
            Input::Host(v) => {
                let t = TensorRef::from_array_view((shape.to_vec(), v.as_slice()))
                    .map_err(|e| anyhow!("{e}"))?;
                Ok(SessionInputValue::from(t))
            }
            Input::Pinned(p) => Ok(SessionInputValue::from(
                p.tensor.as_ref().expect("a loaned buffer holds its tensor"),
            )),
        }
    }
}

/// A pool of pinned input buffers of one shape (see the module documentation).
pub struct Staging {
    free: Mutex<Receiver<Tensor<f32>>>,
    back: Sender<Tensor<f32>>,
    shape: Vec<i64>,
    len: usize,
    /// How many pinned buffers the pool holds (0: host memory only).
    pub pinned: usize,
}

fn elements(shape: &[i64]) -> usize {
    shape.iter().map(|d| (*d).max(0) as usize).product()
}

impl Staging {
    /// A pool without pinned buffers: every buffer is host memory.
    pub fn host(shape: Vec<i64>) -> Staging {
        let (back, free) = channel();
        Staging {
            free: Mutex::new(free),
            back,
            len: elements(&shape),
            shape,
            pinned: 0,
        }
    }

    /// A pool of `count` pinned buffers of `shape`, from the CUDA pinned allocator of
    /// `session` (which must run on the CUDA provider).
    pub fn pinned(session: &Session, shape: Vec<i64>, count: usize) -> Result<Staging> {
        let info = MemoryInfo::new(
            AllocationDevice::CUDA_PINNED,
            0,
            AllocatorType::Device,
            MemoryType::CPUInput,
        )
        .map_err(|e| anyhow!("{e}"))?;
        let allocator = Allocator::new(session, info).map_err(|e| anyhow!("{e}"))?;
        let mut pool = Staging::host(shape);
        for _ in 0..count {
            let t = Tensor::<f32>::new(&allocator, pool.shape.clone())
                .map_err(|e| anyhow!("cannot allocate pinned host memory: {e}"))?;
            pool.back.send(t).expect("the pool holds its receiver");
            pool.pinned += 1;
        }
        Ok(pool)
    }

    /// A buffer for an input of `shape`: a free pinned one when the shape is the pool's and
    /// one is free, else host memory (zeroed).
    pub fn buffer(&self, shape: &[i64]) -> Input {
        if self.pinned > 0 && shape == self.shape.as_slice() {
            let t = self.free.lock().ok().and_then(|rx| rx.try_recv().ok());
            if let Some(t) = t {
                return Input::Pinned(Pinned {
                    tensor: Some(t),
                    len: self.len,
                    back: self.back.clone(),
                });
            }
        }
        Input::Host(vec![0.0; elements(shape)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_pool_gives_zeroed_host_buffers_of_the_shape() {
        let s = Staging::host(vec![2, 3]);
        let mut b = s.buffer(&[2, 3]);
        assert!(!b.is_pinned());
        assert_eq!(b.len(), 6);
        assert!(b.as_mut_slice().iter().all(|v| *v == 0.0));
        let c = s.buffer(&[1, 3]);
        assert_eq!(c.len(), 3);
        assert!(!Input::from(vec![1.0f32]).is_empty());
    }

    #[test]
    fn a_cpu_only_runtime_has_no_pinned_memory_and_says_so() {
        // The test command installs the CPU-only onnxruntime wheel into .venv.
        let model = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/tevolop-lstm-demo.onnx"),
        )
        .unwrap();
        let (session, choice) =
            crate::scoring::runtime::session(&model, crate::scoring::runtime::Ep::Cpu, 1)
                .expect("the test command installs onnxruntime");
        assert_eq!(choice.provider, "cpu");
        let err = Staging::pinned(&session, vec![2, 26, 4], 2)
            .err()
            .expect("no CUDA pinned allocator without the CUDA provider");
        assert!(!format!("{err:#}").is_empty());
    }
}
