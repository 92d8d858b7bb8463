//! Growing the vectors of repeated fields within the decoded-bytes budget: capacity is counted
//! when it is reserved, so what a request makes the decoder allocate is what the budget allows,
//! however many elements it claims.

use crate::decode::Reader;
use crate::error::DecodeError;
#[cfg(feature = "json")]
use crate::json::JsonReader;

/// A reader keeping a decoded-bytes budget.
pub(crate) trait Budgeted {
    /// How many more elements of `size` bytes the budget allows.
    fn affordable(&self, size: usize) -> usize;
    /// Counts `n` bytes; fails once the budget is spent.
    fn spend(&mut self, n: usize) -> Result<(), DecodeError>;
}

impl Budgeted for Reader<'_> {
    #[inline]
    fn affordable(&self, size: usize) -> usize {
        Reader::affordable(self, size)
    }
    #[inline]
    fn spend(&mut self, n: usize) -> Result<(), DecodeError> {
        Reader::spend(self, n)
    }
}

#[cfg(feature = "json")]
impl Budgeted for JsonReader<'_> {
    #[inline]
    fn affordable(&self, size: usize) -> usize {
        JsonReader::affordable(self, size)
    }
    #[inline]
    fn spend(&mut self, n: usize) -> Result<(), DecodeError> {
        JsonReader::spend(self, n)
    }
}

/// Makes room for one more element of `v`. When it is full, reserves `hint(r)` elements for an
/// empty vector (the run of elements the input holds, when the reader can tell) or doubles it,
/// never beyond what the budget allows, and counts the capacity added.
#[inline(always)]
pub(crate) fn make_room<T, R: Budgeted>(
    v: &mut Vec<T>,
    r: &mut R,
    hint: impl FnOnce(&R) -> usize,
) -> Result<(), DecodeError> {
    if v.len() < v.capacity() {
        return Ok(());
    }
    let want = if v.is_empty() { hint(r) } else { v.capacity() };
    grow(v, r, want)
}

#[inline(never)]
fn grow<T, R: Budgeted>(v: &mut Vec<T>, r: &mut R, want: usize) -> Result<(), DecodeError> {
    let size = size_of::<T>().max(1);
    let n = want.min(r.affordable(size)).max(1);
    r.spend(n.saturating_mul(size))?;
    v.reserve_exact(n);
    Ok(())
}
