//! The C program under the shim (being written).
