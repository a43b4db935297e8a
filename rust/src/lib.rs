//! directmem: the native half of an off-heap memory backend for the JVM.
//!
//! Plain Rust modules hold the logic and are tested with `cargo test`; `jvm` is the thin JNI
//! layer the Java class `dev.directmem.Native` binds to.

pub mod error;
pub mod fill;
pub mod heap_trim;
pub mod last_freed;
pub mod ledger;
#[cfg(test)]
mod ledger_model;
pub mod memory;
pub mod pool;
pub mod recent;
pub mod recent_frees;
pub mod reclaim;
pub mod report;
pub mod reuse;
pub mod reuse_malloc;
pub mod split;
#[cfg(test)]
mod testing;

mod jvm;
