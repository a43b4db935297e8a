//! Writing one byte value over a range, with plain stores or with streaming stores that bypass
//! the cache.
//!
//! A plain store to a line that is not in cache first reads the line from memory (read for
//! ownership); a streaming store does not, but leaves the line out of cache. Measured with glibc
//! `memset` against SSE2 `movntdq`, each followed by writing one byte per page, as a user of the
//! block would (a C loop over blocks used in turn; microseconds per block; both machines KVM
//! guests with 2 cores):
//!
//! | zeroing                                    | AMD EPYC, plain | streaming | Intel Xeon, plain | streaming |
//! |--------------------------------------------|-----------------|-----------|-------------------|-----------|
//! | 1 MiB, the same block again                | 23              | 56        | 17                | 52        |
//! | 1 MiB, one of 64 blocks (64 MiB in turn)   | 157             | 70        | 39                | 50        |
//! | 1 MiB, one of 256 blocks (256 MiB in turn) |                 |           | 96                | 47        |
//! | 8 MiB, the same block again                | 280             | 420       |                   |           |
//! | 12 MiB, the same block again               | 1,700           | 740       |                   |           |
//! | 16 MiB, the same block again               |                 |           | 621               | 753       |
//! | 16 MiB, one of 16 blocks (256 MiB in turn) |                 |           | 1,815             | 746       |
//!
//! So streaming pays for memory out of cache, but where that starts depends on the machine: from
//! about 10 MiB used between two zeroings of a line on the AMD guest (32 MiB of L3), from 64–128
//! MiB on the Intel one (2 MiB of L2 per core, a far larger L3). The cache size the OS reports
//! does not tell: both guests report the host's, 256 and 480 MiB. The rule below follows the AMD
//! measurements: where it is wrong on the Intel guest it costs 21–28 %; the other way round,
//! plain stores would cost the AMD guest 2.2–2.3 times. (Learning the choice at run time by
//! timing each zeroing was tried and not kept: one zeroing with plain stores right after a
//! streaming pass finds the block out of cache, so it never measures their steady state.)

/// Which stores fill a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stores {
    /// Plain stores (`memset`): best while the lines are in cache.
    Cached,
    /// Streaming stores: best for lines out of cache; plain stores where the CPU has none.
    Streaming,
}

impl Stores {
    /// Streaming for a range larger than [`STREAMING_ABOVE`], plain up to it.
    pub fn for_len(len: usize) -> Stores {
        if len > STREAMING_ABOVE {
            Stores::Streaming
        } else {
            Stores::Cached
        }
    }
}

/// Between 8 MiB and 12 MiB plain stores stop paying in the measurements above. Not derived
/// from the cache size the OS reports: in our KVM guests `sysconf` reports the host's 256 MiB,
/// eight times the 32 MiB a core can use.
pub const STREAMING_ABOVE: usize = 8 << 20;

/// Sets `len` bytes at `ptr` to `value`. Every store is visible to other threads once any later
/// store of this thread is.
///
/// # Safety
/// `ptr..ptr+len` must be writable memory owned by the caller.
pub unsafe fn fill(ptr: *mut u8, len: usize, value: u8, stores: Stores) {
    #[cfg(target_arch = "x86_64")]
    if stores == Stores::Streaming {
        return stream(ptr, len, value);
    }
    let _ = stores;
    std::ptr::write_bytes(ptr, value, len);
}

/// Streaming stores over the whole 64-byte lines of the range, plain stores over the partial
/// lines at either end.
///
/// # Safety
/// As [`fill`].
#[cfg(target_arch = "x86_64")]
unsafe fn stream(ptr: *mut u8, len: usize, value: u8) {
    use std::arch::x86_64::{__m128i, _mm_set1_epi8, _mm_sfence, _mm_stream_si128};
    const LINE: usize = 64;
    let head = ptr.align_offset(LINE).min(len);
    let lines = (len - head) / LINE;
    std::ptr::write_bytes(ptr, value, head);
    // SSE2 is part of x86-64, so these need no check of the CPU.
    let pattern = _mm_set1_epi8(value as i8);
    let mut line = ptr.add(head);
    for _ in 0..lines {
        let at = line.cast::<__m128i>();
        _mm_stream_si128(at, pattern);
        _mm_stream_si128(at.add(1), pattern);
        _mm_stream_si128(at.add(2), pattern);
        _mm_stream_si128(at.add(3), pattern);
        line = line.add(LINE);
    }
    // Streaming stores are weakly ordered: without the fence, a thread that sees the buffer
    // published could still read the old bytes.
    _mm_sfence();
    std::ptr::write_bytes(line, value, len - head - lines * LINE);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_fill(len: usize, offset: usize, stores: Stores) {
        let mut bytes = vec![0xEEu8; len + offset + 80];
        // SAFETY: inside the vector.
        unsafe { fill(bytes.as_mut_ptr().add(offset), len, 0x5A, stores) };
        let (before, rest) = bytes.split_at(offset);
        let (filled, after) = rest.split_at(len);
        assert!(before.iter().all(|b| *b == 0xEE), "{len}@{offset}: before");
        assert!(filled.iter().all(|b| *b == 0x5A), "{len}@{offset}: filled");
        assert!(after.iter().all(|b| *b == 0xEE), "{len}@{offset}: after");
    }

    #[test]
    fn both_kinds_of_stores_fill_exactly_the_range_whatever_its_alignment() {
        for stores in [Stores::Cached, Stores::Streaming] {
            for len in [0, 1, 15, 63, 64, 65, 127, 128, 200, 4096, 70_001] {
                for offset in [0, 1, 7, 16, 33, 63] {
                    check_fill(len, offset, stores);
                }
            }
        }
    }

    #[test]
    fn only_ranges_larger_than_the_threshold_stream() {
        assert_eq!(Stores::for_len(0), Stores::Cached);
        assert_eq!(Stores::for_len(STREAMING_ABOVE), Stores::Cached);
        assert_eq!(Stores::for_len(STREAMING_ABOVE + 1), Stores::Streaming);
    }
}
