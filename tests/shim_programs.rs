//! Real programs under the shim (being written).
