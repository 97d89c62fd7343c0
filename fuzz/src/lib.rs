//! Shared parts of the famfs-core fuzz targets (`fuzz_targets/`): the
//! invariants every fmap resolution must keep, and the in-memory device the
//! replay target formats and replays.

pub mod le;
pub mod resolution;
pub mod scratch_device;
