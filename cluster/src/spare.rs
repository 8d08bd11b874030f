//! A spare buffer for the large values this process sends and fetches: the last one freed,
//! kept a short while, so that a process moving large values one after another writes each
//! into memory it has already instead of fresh pages. (The allocator hands a buffer this large out of
//! fresh pages each time, and the kernel zeroes and maps each page on first touch: about a
//! third of the cost of moving a value, measured.)
//!
//! At most one buffer is kept, for at most [`KEEP`] unused; `sweep` frees it after that.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use bytes::Bytes;

/// Buffers smaller than this are not kept: the allocator recycles those itself.
const SMALLEST: usize = 8 << 20;

/// How long a spare buffer is kept unused.
pub(crate) const KEEP: Duration = Duration::from_secs(10);

/// The spare buffer, if any, and when it was given back. A value's encoding (`hooks.rs`,
/// through the seam's `Cluster::buffer`) and a fetch (`fetch.rs`) take it; a value held for
/// its reader (`objects.rs`) and the bytes fetched give it back once freed.
#[derive(Default)]
pub(crate) struct Spare {
    kept: Mutex<Option<(Vec<u8>, Instant)>>,
}

impl Spare {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Vec<u8>, Instant)>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An empty buffer with room for `len` bytes: the spare when it has room, else a new one.
    ///
    /// # Errors
    /// When no memory can be had for `len` bytes.
    pub(crate) fn take(&self, len: usize) -> Result<Vec<u8>, std::collections::TryReserveError> {
        if len >= SMALLEST {
            let mut kept = self.lock();
            if kept
                .as_ref()
                .is_some_and(|(buffer, _)| buffer.capacity() >= len)
                && let Some((mut buffer, _)) = kept.take()
            {
                buffer.clear();
                return Ok(buffer);
            }
        }
        let mut buffer = Vec::new();
        buffer.try_reserve_exact(len)?;
        Ok(buffer)
    }

    /// Keeps `buffer` as the spare (in place of a smaller one), if it is large enough to be
    /// worth keeping.
    pub(crate) fn give(&self, buffer: Vec<u8>, now: Instant) {
        if buffer.capacity() < SMALLEST {
            return;
        }
        let mut kept = self.lock();
        let larger = kept
            .as_ref()
            .is_none_or(|(spare, _)| spare.capacity() <= buffer.capacity());
        let dropped = if larger {
            kept.replace((buffer, now)).map(|(spare, _)| spare)
        } else {
            Some(buffer)
        };
        // Freed outside the lock.
        drop(kept);
        drop(dropped);
    }

    /// The size of the spare buffer kept now.
    pub(crate) fn bytes_kept(&self) -> usize {
        self.lock()
            .as_ref()
            .map_or(0, |(buffer, _)| buffer.capacity())
    }

    /// Frees the spare if it has been kept unused for [`KEEP`]; its size if so.
    pub(crate) fn sweep(&self, now: Instant) -> usize {
        let mut kept = self.lock();
        let stale = kept
            .as_ref()
            .is_some_and(|(_, since)| now.saturating_duration_since(*since) >= KEEP);
        let freed = if stale { kept.take() } else { None };
        drop(kept);
        freed.map_or(0, |(buffer, _)| buffer.capacity())
    }

    /// `buffer` as bytes that give it back to this spare once the last of them is dropped.
    pub(crate) fn bytes(self: &Arc<Self>, buffer: Vec<u8>) -> Bytes {
        if buffer.capacity() < SMALLEST {
            return Bytes::from(buffer);
        }
        Bytes::from_owner(Returning {
            buffer,
            spare: Arc::downgrade(self),
        })
    }
}

/// A buffer lent out as [`Bytes`], given back to its spare when dropped.
struct Returning {
    buffer: Vec<u8>,
    spare: std::sync::Weak<Spare>,
}

impl AsRef<[u8]> for Returning {
    fn as_ref(&self) -> &[u8] {
        &self.buffer
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        if let Some(spare) = self.spare.upgrade() {
            spare.give(std::mem::take(&mut self.buffer), Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_buffer_comes_back_and_is_taken_again_until_it_is_swept() {
        let spare = Arc::new(Spare::default());
        let start = Instant::now();
        let mut buffer = spare.take(SMALLEST).expect("memory");
        buffer.extend_from_slice(&vec![1; SMALLEST]);
        let address = buffer.as_ptr();
        let bytes = spare.bytes(buffer);
        assert_eq!(bytes.len(), SMALLEST);
        let copy = bytes.clone();
        drop(bytes);
        assert_eq!(spare.sweep(start + KEEP * 2), 0, "still lent out");
        drop(copy);
        // Back: the next fetch of a large value that fits writes into it, emptied.
        let again = spare.take(SMALLEST).expect("memory");
        assert_eq!((again.as_ptr(), again.len()), (address, 0));
        spare.give(again, start);
        assert_eq!(spare.sweep(start + KEEP / 2), 0, "not yet stale");
        assert!(spare.sweep(start + KEEP) >= SMALLEST, "freed once stale");
        assert_eq!(spare.sweep(start + KEEP * 3), 0, "nothing is left to free");
    }

    #[test]
    fn small_buffers_are_not_kept_and_a_larger_spare_is_not_replaced_by_a_smaller_one() {
        let spare = Arc::new(Spare::default());
        let now = Instant::now();
        spare.give(Vec::with_capacity(SMALLEST - 1), now);
        assert_eq!(spare.sweep(now + KEEP), 0);
        spare.give(Vec::with_capacity(2 * SMALLEST), now);
        spare.give(Vec::with_capacity(SMALLEST), now);
        assert_eq!(spare.sweep(now + KEEP), 2 * SMALLEST);
        // Too small for what is asked: a new buffer.
        spare.give(Vec::with_capacity(SMALLEST), now);
        assert!(spare.take(2 * SMALLEST).expect("memory").capacity() >= 2 * SMALLEST);
        assert_eq!(spare.sweep(now + KEEP), SMALLEST, "the small spare stays");
    }
}
