//! Fixed-width integers read from a byte slice in either byte order, without panicking: a read
//! past the end is `None`.

/// The byte order a capture (or a pcapng section) was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endian {
    Little,
    Big,
}

impl Endian {
    /// The `N` bytes at `at`, if they are all there.
    fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
        b.get(at..at.checked_add(N)?)?.try_into().ok()
    }

    pub fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let a = Self::array(b, at)?;
        Some(match self {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        })
    }

    pub fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let a = Self::array(b, at)?;
        Some(match self {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        })
    }

    pub fn i64(self, b: &[u8], at: usize) -> Option<i64> {
        let a = Self::array(b, at)?;
        Some(match self {
            Endian::Little => i64::from_le_bytes(a),
            Endian::Big => i64::from_be_bytes(a),
        })
    }
}

/// A big-endian (network order) u16, as link-layer headers hold them.
pub(super) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Endian::Big.u16(b, at)
}

/// A u32 as a `usize`: lengths read from a file, compared against the bytes really there.
pub(super) fn len(v: u32) -> usize {
    // Only 16-bit targets could lose bits here, and there a saturated length simply fails
    // the bounds checks that follow every use.
    usize::try_from(v).unwrap_or(usize::MAX)
}
