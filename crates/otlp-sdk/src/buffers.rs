//! Output buffers that come back: a request body is encoded into a buffer taken from a small
//! pool, shared with the transport as [`Bytes`], and returned to the pool when the last
//! reference drops (after the export and any retry). At steady state, encoding a request then
//! allocates nothing, and touches no fresh page (a fresh multi-hundred-kilobyte buffer costs a
//! page fault per 4 KiB and zeroing).

use bytes::Bytes;
use otlp_proto::RevBuf;
use std::sync::{Arc, Mutex, PoisonError};

/// Buffers kept for reuse; more are freed when they come back.
const KEEP: usize = 4;
/// Buffers larger than this are not kept (twice the default request-size cap): at most
/// 32 MiB held per pipeline.
const KEEP_MAX_BYTES: usize = 8 << 20;

/// A pool of encoding buffers (one per pipeline).
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// A buffer with room for at least `size` bytes.
    pub(crate) fn take(&self, size: usize) -> RevBuf {
        let reused = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut storage = reused.unwrap_or_default();
        if storage.len() < size {
            storage.resize(size, 0);
        }
        RevBuf::from_vec(storage)
    }

    /// The written bytes, sharing the buffer; it comes back to the pool when they drop.
    pub(crate) fn freeze(self: &Arc<Self>, buf: RevBuf) -> Bytes {
        let (storage, start) = buf.into_parts();
        Bytes::from_owner(Owned {
            storage,
            start,
            pool: Arc::clone(self),
        })
    }

    fn give_back(&self, storage: Vec<u8>) {
        if storage.len() > KEEP_MAX_BYTES {
            return;
        }
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.len() < KEEP {
            free.push(storage);
        }
    }
}

struct Owned {
    storage: Vec<u8>,
    start: usize,
    pool: Arc<BufferPool>,
}

impl AsRef<[u8]> for Owned {
    fn as_ref(&self) -> &[u8] {
        &self.storage[self.start..]
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.storage));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_when_the_bytes_drop() {
        let pool = Arc::new(BufferPool::default());
        let mut buf = pool.take(100);
        buf.put_slice(b"hello");
        let bytes = pool.freeze(buf);
        assert_eq!(&bytes[..], b"hello");
        let ptr = bytes.as_ptr();
        let slice = bytes.slice(1..);
        drop(bytes);
        assert!(pool.free.lock().expect("lock").is_empty(), "still shared");
        drop(slice);
        let mut again = pool.take(10);
        again.put_slice(b"x");
        let bytes = pool.freeze(again);
        // Written at the end of the same storage: one byte before where "hello" ended.
        assert_eq!(
            bytes.as_ptr(),
            ptr.wrapping_add(4),
            "same allocation reused"
        );
        assert_eq!(&bytes[..], b"x");
    }
}
