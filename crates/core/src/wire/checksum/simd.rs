//! Run-time choice of the widest vector instructions the CPU has, for the checksum loops.
//!
//! The crate is built for baseline x86-64, whose vectors are 128-bit SSE2. The loops in the
//! parent module are plain safe Rust; here they are compiled twice more, with AVX2 and with
//! AVX-512 enabled, and [`Isa::best`] picks one once per process. The binary still runs on
//! any x86-64: a CPU without the features gets the portable loop.
//!
//! The one unsafe operation in the crate lives here: calling a `#[target_feature]` function,
//! which is undefined behaviour on a CPU without the feature. An [`Isa`] is the proof that
//! the feature was detected: its field is private to this module, and every constructor
//! asks the CPU first.

/// [`super::accumulate`] with the best instruction set. Out of line, so that the callers
/// that inline `accumulate` for its short-input path do not also inline the dispatch.
#[inline(never)]
pub(super) fn accumulate(sum: u64, data: &[u8]) -> u64 {
    Isa::best().accumulate(sum, data)
}

/// [`super::copy_accumulate`] with the best instruction set; `dst` and `src` are as long.
#[inline(never)]
pub(super) fn copy_accumulate(sum: u64, dst: &mut [u8], src: &[u8]) -> u64 {
    Isa::best().copy_accumulate(sum, dst, src)
}

/// An instruction set the CPU running this process was found to have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Isa(Level);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Isa {
    /// The widest instruction set the CPU has, detected on the first call.
    #[inline]
    pub(super) fn best() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            x86::best()
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Isa(Level::Portable)
        }
    }

    /// Every instruction set the CPU has, portable first: for tests of each variant.
    #[cfg(test)]
    pub(super) fn supported() -> Vec<Isa> {
        let all = [Isa(Level::Portable)].into_iter();
        #[cfg(target_arch = "x86_64")]
        let all = all
            .chain(x86::has_avx2().then_some(Isa(Level::Avx2)))
            .chain(x86::has_avx512().then_some(Isa(Level::Avx512)));
        all.collect()
    }

    /// [`super::accumulate`] with this instruction set.
    #[allow(unsafe_code)]
    pub(super) fn accumulate(self, sum: u64, data: &[u8]) -> u64 {
        match self.0 {
            Level::Portable => accumulate_portable(sum, data),
            // SAFETY: an `Isa` holds `Avx2` only if the CPU was found to have AVX2.
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => unsafe { x86::accumulate_avx2(sum, data) },
            // SAFETY: an `Isa` holds `Avx512` only if the CPU was found to have every feature
            // `accumulate_avx512` enables.
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => unsafe { x86::accumulate_avx512(sum, data) },
        }
    }

    /// [`super::copy_accumulate`] with this instruction set; `dst` and `src` are as long.
    #[allow(unsafe_code)]
    pub(super) fn copy_accumulate(self, sum: u64, dst: &mut [u8], src: &[u8]) -> u64 {
        match self.0 {
            Level::Portable => copy_accumulate_portable(sum, dst, src),
            // SAFETY: as in `accumulate`.
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => unsafe { x86::copy_accumulate_avx2(sum, dst, src) },
            // SAFETY: as in `accumulate`.
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => unsafe { x86::copy_accumulate_avx512(sum, dst, src) },
        }
    }
}

// The portable loops out of line like the others: inlined into the dispatch, LLVM was seen
// to leave the fused loop's lanes in scalar registers.
#[inline(never)]
fn accumulate_portable(sum: u64, data: &[u8]) -> u64 {
    super::accumulate_body(sum, data)
}

#[inline(never)]
fn copy_accumulate_portable(sum: u64, dst: &mut [u8], src: &[u8]) -> u64 {
    super::copy_accumulate_body(sum, dst, src)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Isa, Level};
    use crate::wire::checksum::{accumulate_body, copy_accumulate_body};
    use std::sync::atomic::{AtomicU8, Ordering};

    /// The detected [`Level`], or `UNKNOWN` before the first call. Relaxed is enough: the
    /// value stands alone, and two threads racing to fill it store the same answer.
    static BEST: AtomicU8 = AtomicU8::new(UNKNOWN);
    const UNKNOWN: u8 = 0;
    const PORTABLE: u8 = 1;
    const AVX2: u8 = 2;
    const AVX512: u8 = 3;

    #[inline]
    pub(super) fn best() -> Isa {
        match BEST.load(Ordering::Relaxed) {
            PORTABLE => Isa(Level::Portable),
            AVX2 => Isa(Level::Avx2),
            AVX512 => Isa(Level::Avx512),
            _ => detect(),
        }
    }

    #[cold]
    fn detect() -> Isa {
        let (level, code) = if has_avx512() {
            (Level::Avx512, AVX512)
        } else if has_avx2() {
            (Level::Avx2, AVX2)
        } else {
            (Level::Portable, PORTABLE)
        };
        BEST.store(code, Ordering::Relaxed);
        Isa(level)
    }

    pub(super) fn has_avx2() -> bool {
        std::is_x86_feature_detected!("avx2")
    }

    /// Every feature the AVX-512 variants enable, and those that `avx512f` implies (the
    /// compiler may use them too).
    pub(super) fn has_avx512() -> bool {
        has_avx2()
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("f16c")
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn accumulate_avx2(sum: u64, data: &[u8]) -> u64 {
        accumulate_body(sum, data)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn copy_accumulate_avx2(sum: u64, dst: &mut [u8], src: &[u8]) -> u64 {
        copy_accumulate_body(sum, dst, src)
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn accumulate_avx512(sum: u64, data: &[u8]) -> u64 {
        accumulate_body(sum, data)
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn copy_accumulate_avx512(sum: u64, dst: &mut [u8], src: &[u8]) -> u64 {
        copy_accumulate_body(sum, dst, src)
    }
}
