//! Heap profiling: [`SamplingAllocator`], the global allocator that samples allocations, and
//! `HeapSource`, through which a collector turns it on and takes its samples.

mod allocator;
mod countdown;
mod live;
mod source;
pub(crate) mod stack;
pub mod testing;

pub use allocator::SamplingAllocator;
#[allow(unused_imports)]
pub(crate) use source::{HeapSource, boxed};
