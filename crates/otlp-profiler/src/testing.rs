//! Hooks for this crate's integration tests and benches, which cannot reach the crate-internal
//! samplers and profile builder: not part of the supported API (hidden from the docs; it may
//! change in any release). One module, so the hooks live in one place.

pub use crate::cpu::probe::*;
pub use crate::heap::testing::*;
pub use crate::lock::testing::*;
pub use crate::profile::testing::*;
