//! The one grouping of a batch by instrumentation scope, for every encoder that writes a
//! request with one `Scope*` message per scope.
//!
//! The order, the same for every signal: scopes in order of first appearance in the batch,
//! and within a scope, items in batch order. The batch itself is left as it is (an encoder
//! must hand it back in the same order: the pipeline may split it and encode the halves);
//! the grouping is a list of batch positions.

use std::ops::Range;

/// A batch grouped by scope: which positions of the batch each scope holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScopeGroups {
    /// In order of first appearance.
    groups: Vec<Group>,
    /// Batch positions, group after group, each group's in batch order.
    order: Vec<usize>,
    /// The group of each batch position (scratch, kept for its capacity).
    group_of: Vec<u32>,
}

/// One scope's share of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Group {
    /// The scope's index (in the client's scope table, or 0 for an encoder of one scope).
    pub(crate) scope: u32,
    start: usize,
    end: usize,
}

impl Group {
    /// Where the group's batch positions are in [`ScopeGroups::order`].
    pub(crate) fn positions(&self) -> Range<usize> {
        self.start..self.end
    }
}

impl ScopeGroups {
    /// Groups a batch whose items have the scopes `scopes`, in batch order.
    pub(crate) fn group(&mut self, scopes: impl IntoIterator<Item = u32>) {
        self.groups.clear();
        self.order.clear();
        self.group_of.clear();
        let mut last: Option<(u32, u32)> = None;
        for scope in scopes {
            let group = match last {
                Some((s, g)) if s == scope => g,
                _ => {
                    // Batches hold few scopes: a linear search.
                    let g = match self.groups.iter().position(|g| g.scope == scope) {
                        Some(g) => g,
                        None => {
                            self.groups.push(Group {
                                scope,
                                start: 0,
                                end: 0,
                            });
                            self.groups.len() - 1
                        }
                    } as u32;
                    last = Some((scope, g));
                    g
                }
            };
            // `end` counts the group's items until the positions are laid out below.
            if let Some(g) = self.groups.get_mut(group as usize) {
                g.end += 1;
            }
            self.group_of.push(group);
        }
        let n = self.group_of.len();
        if let [only] = self.groups.as_mut_slice() {
            // Nearly always: one scope, the batch order.
            only.end = n;
            self.order.extend(0..n);
            return;
        }
        // A stable counting sort: each group's range, then each position into its group's.
        let mut next = 0;
        for g in &mut self.groups {
            let count = g.end;
            g.start = next;
            g.end = next;
            next += count;
        }
        self.order.resize(n, 0);
        for (position, &group) in self.group_of.iter().enumerate() {
            if let Some(g) = self.groups.get_mut(group as usize)
                && let Some(slot) = self.order.get_mut(g.end)
            {
                *slot = position;
                g.end += 1;
            }
        }
    }

    /// The groups, in order of first appearance.
    pub(crate) fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The batch positions, group after group (see [`Group::positions`]).
    pub(crate) fn order(&self) -> &[usize] {
        &self.order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grouped(scopes: &[u32]) -> Vec<(u32, Vec<usize>)> {
        let mut groups = ScopeGroups::default();
        groups.group(scopes.iter().copied());
        groups
            .groups()
            .iter()
            .map(|g| (g.scope, groups.order()[g.positions()].to_vec()))
            .collect()
    }

    #[test]
    fn scopes_by_first_appearance_items_in_batch_order() {
        assert_eq!(
            grouped(&[5, 2, 5, 9, 2, 2, 5]),
            vec![(5, vec![0, 2, 6]), (2, vec![1, 4, 5]), (9, vec![3])]
        );
        // Not by scope index: the first item's scope comes first.
        assert_eq!(grouped(&[3, 1]), vec![(3, vec![0]), (1, vec![1])]);
    }

    #[test]
    fn one_scope_is_the_batch_as_it_is_and_nothing_is_no_group() {
        assert_eq!(grouped(&[4, 4, 4]), vec![(4, vec![0, 1, 2])]);
        assert_eq!(grouped(&[]), vec![]);
    }

    #[test]
    fn a_grouping_forgets_the_previous_one() {
        let mut groups = ScopeGroups::default();
        groups.group([1, 2, 1]);
        groups.group([7]);
        assert_eq!(groups.groups().len(), 1);
        assert_eq!(groups.order(), &[0]);
    }
}
