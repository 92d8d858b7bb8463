//! Decoded rows grouped by the id of the row they belong to: attributes by their resource,
//! scope, span, event, link, data point or exemplar; events and links by span; data points by
//! metric; exemplars by data point.

use std::collections::HashMap;

/// Children by their parent's id, each parent's in the order they were pushed.
///
/// Encoders number a table's rows 0, 1, 2, ..., so the ids children point at are small and
/// dense: a vector indexed by id holds them (a hash map per row was most of the cost of
/// decoding an attribute table). An id far above the table's row count, which only an odd or
/// hostile encoder writes, goes to a map instead, so that no batch makes the decoder allocate
/// more than its rows warrant.
#[derive(Debug)]
pub(crate) struct ByParent<C> {
    dense: Vec<Vec<C>>,
    /// Ids below this go to `dense`.
    limit: usize,
    sparse: HashMap<u32, Vec<C>, foldhash::fast::RandomState>,
}

impl<C> Default for ByParent<C> {
    fn default() -> Self {
        ByParent::for_rows(0)
    }
}

impl<C> ByParent<C> {
    /// Empty, for the children of a table of `rows` rows.
    pub(crate) fn for_rows(rows: usize) -> Self {
        ByParent {
            dense: Vec::new(),
            limit: rows.saturating_mul(4).saturating_add(64),
            sparse: HashMap::default(),
        }
    }

    /// `(parent, child)` pairs grouped, each parent's children in the order of the pairs and
    /// in a vector of their exact size (pushing one by one grows most of them two or three
    /// times), for a table of `rows` rows.
    pub(crate) fn from_pairs(rows: usize, pairs: Vec<(u32, C)>) -> Self {
        let mut by = ByParent::for_rows(rows);
        let mut counts: Vec<usize> = Vec::new();
        for &(parent, _) in &pairs {
            let at = parent as usize;
            if at < by.limit {
                if at >= counts.len() {
                    counts.resize(at + 1, 0);
                }
                if let Some(c) = counts.get_mut(at) {
                    *c += 1;
                }
            }
        }
        by.dense = counts.into_iter().map(Vec::with_capacity).collect();
        for (parent, child) in pairs {
            by.push(parent, child);
        }
        by
    }

    /// Adds `child` after the children of `parent` pushed before it.
    pub(crate) fn push(&mut self, parent: u32, child: C) {
        let at = parent as usize;
        if at >= self.limit {
            self.sparse.entry(parent).or_default().push(child);
            return;
        }
        if at >= self.dense.len() {
            self.dense.resize_with(at + 1, Vec::new);
        }
        if let Some(children) = self.dense.get_mut(at) {
            children.push(child);
        }
    }

    /// The children of the row with id `own` (none for a row without an id), taken out.
    pub(crate) fn take(&mut self, own: Option<u32>) -> Vec<C> {
        let Some(id) = own else {
            return Vec::new();
        };
        match self.dense.get_mut(id as usize) {
            Some(children) => std::mem::take(children),
            None => self.sparse.remove(&id).unwrap_or_default(),
        }
    }

    /// The children of the row with id `own`, left in place.
    pub(crate) fn get(&self, own: Option<u32>) -> &[C] {
        let Some(id) = own else {
            return &[];
        };
        match self.dense.get(id as usize) {
            Some(children) => children,
            None => self.sparse.get(&id).map_or(&[], Vec::as_slice),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_come_back_by_parent_in_push_order_dense_or_sparse() {
        let mut by = ByParent::for_rows(2);
        // Limit 72: 3 and 70 dense, 1,000 and u32::MAX sparse.
        for (parent, child) in [(3, 'a'), (1_000, 'b'), (3, 'c'), (u32::MAX, 'd'), (70, 'e')] {
            by.push(parent, child);
        }
        assert_eq!(by.get(Some(3)), ['a', 'c']);
        assert_eq!(by.get(Some(1_000)), ['b']);
        assert_eq!(by.take(Some(u32::MAX)), ['d']);
        assert_eq!(by.take(Some(70)), ['e']);
        assert_eq!(by.take(Some(3)), ['a', 'c']);
        assert!(by.take(Some(3)).is_empty(), "taken once");
        assert!(by.take(Some(5)).is_empty() && by.take(None).is_empty());
        assert!(by.get(Some(71)).is_empty() && by.get(Some(2_000)).is_empty());
        // A huge id costs a map entry, not a vector that long.
        assert!(by.dense.len() <= 72);
    }

    #[test]
    fn pairs_group_as_pushes_do_in_vectors_of_their_size() {
        let pairs = vec![(2, 'a'), (0, 'b'), (2, 'c'), (9_000, 'd'), (2, 'e')];
        let mut by = ByParent::from_pairs(3, pairs.clone());
        let mut pushed = ByParent::for_rows(3);
        pairs.into_iter().for_each(|(p, c)| pushed.push(p, c));
        for id in [0, 1, 2, 9_000] {
            assert_eq!(by.get(Some(id)), pushed.get(Some(id)));
        }
        assert_eq!(by.dense[2].capacity(), 3);
        assert_eq!(by.take(Some(2)), ['a', 'c', 'e']);
        assert_eq!(by.take(Some(9_000)), ['d']);
    }
}
