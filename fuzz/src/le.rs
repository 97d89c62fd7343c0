//! Little-endian field reads for the targets' independent models of the
//! on-media format (the contract's offsets, not famfs-core's decoders).

/// The `u32` at byte `off` of `b`.
pub fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

/// The `u64` at byte `off` of `b`.
pub fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}
