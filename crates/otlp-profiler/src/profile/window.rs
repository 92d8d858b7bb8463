//! [`Window`]: a profiling window's samples as they are collected, kept compact.
//!
//! Most of a window's memory is stacks: a CPU sample's leaf address differs from sample to
//! sample while its callers repeat. Stacks are therefore kept as a tree of frames from the
//! root (a stack is its leaf node; stacks sharing callers share nodes), thread names once
//! each, and observations in one list rather than one small list per distinct sample. Heap
//! samples, which a busy allocator yields by the tens of thousands a minute, are summed per
//! distinct sample as they come (one value, no timestamps, as pprof keeps them); the other
//! kinds keep every observation with its time.

use crate::config::ProfileType;
use crate::sample::RawSample;
use foldhash::HashMap;
use std::sync::Arc;

/// The parent of a stack's outermost frame, and the node of an empty stack.
const ROOT: u32 = u32::MAX;

/// One observation of a sample: its values and when it was taken.
pub(super) type Observation = ([i64; 2], u64);

/// Whether samples of `kind` are summed per distinct sample rather than kept one by one.
pub(super) fn is_summed(kind: ProfileType) -> bool {
    matches!(kind, ProfileType::Heap | ProfileType::HeapAlloc)
}

/// What makes two samples the same sample: they aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Key {
    pub(super) kind: ProfileType,
    /// The stack's leaf node.
    stack: u32,
    pub(super) link: Option<([u8; 16], [u8; 8])>,
    pub(super) thread_id: u32,
    /// 1 + the index of the thread's name; 0 for none.
    thread_name: u32,
    pub(super) thread_state: Option<&'static str>,
}

/// Stacks sharing their callers: node `i` is `(parent, address)`.
#[derive(Debug, Default)]
struct StackTree {
    nodes: Vec<(u32, u64)>,
    index: HashMap<(u32, u64), u32>,
}

impl StackTree {
    /// The leaf node of `frames` (leaf first), added as needed.
    fn intern(&mut self, frames: &[u64]) -> u32 {
        let mut node = ROOT;
        for &pc in frames.iter().rev() {
            node = match self.index.get(&(node, pc)) {
                Some(&n) => n,
                None => {
                    // Four billion distinct frames do not fit in memory first; were they to,
                    // the stack would be cut rather than the process stopped.
                    let Ok(n) = u32::try_from(self.nodes.len()) else {
                        return node;
                    };
                    if n == ROOT {
                        return node;
                    }
                    self.nodes.push((node, pc));
                    self.index.insert((node, pc), n);
                    n
                }
            };
        }
        node
    }

    /// The addresses of stack `leaf`, leaf first.
    fn frames(&self, leaf: u32) -> impl Iterator<Item = u64> + '_ {
        std::iter::successors(self.nodes.get(leaf as usize), |(parent, _)| {
            self.nodes.get(*parent as usize)
        })
        .map(|(_, pc)| *pc)
    }
}

/// A window's samples, as they come.
#[derive(Debug, Default)]
pub(super) struct Window {
    tree: StackTree,
    names: Vec<Arc<str>>,
    name_ids: HashMap<Arc<str>, u32>,
    /// Each distinct sample, and the order it first came in.
    index: HashMap<Key, u32>,
    /// `(sample, values, time)` of every observation of the kinds kept one by one.
    observations: Vec<(u32, [i64; 2], u64)>,
    /// The sums of the samples of summed kinds.
    sums: HashMap<u32, [i64; 2]>,
}

impl Window {
    /// Adds a sample, aggregating it with an identical one.
    pub(super) fn add(&mut self, sample: RawSample) {
        let thread_name = match sample.thread_name {
            None => 0,
            Some(name) => match self.name_ids.get(&*name) {
                Some(&id) => id,
                None => {
                    self.names.push(Arc::clone(&name));
                    let id = u32::try_from(self.names.len()).unwrap_or(0);
                    self.name_ids.insert(name, id);
                    id
                }
            },
        };
        let key = Key {
            kind: sample.kind,
            stack: self.tree.intern(&sample.frames),
            link: sample
                .link
                .map(|l| (l.trace_id.to_bytes(), l.span_id.to_bytes())),
            thread_id: sample.thread_id,
            thread_name,
            thread_state: sample.thread_state,
        };
        let next = u32::try_from(self.index.len()).unwrap_or(u32::MAX);
        let id = *self.index.entry(key).or_insert(next);
        if is_summed(sample.kind) {
            let sum = self.sums.entry(id).or_default();
            for (s, v) in sum.iter_mut().zip(sample.values) {
                *s = s.saturating_add(v);
            }
        } else {
            self.observations
                .push((id, sample.values, sample.timestamp_unix_nano));
        }
    }

    /// The samples in the order they first came, each with its observations in theirs.
    pub(super) fn finish(mut self) -> Collected {
        // A sum is its sample's one observation.
        self.observations
            .extend(self.sums.drain().map(|(id, sum)| (id, sum, 0)));
        let mut keys: Vec<(Key, u32)> = self.index.into_iter().collect();
        keys.sort_unstable_by_key(|(_, id)| *id);
        let keys: Vec<Key> = keys.into_iter().map(|(k, _)| k).collect();
        // Grouped by sample, keeping their order: a counting sort.
        let mut offsets = vec![0usize; keys.len() + 1];
        for (id, _, _) in &self.observations {
            if let Some(o) = offsets.get_mut(*id as usize + 1) {
                *o += 1;
            }
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let mut next = offsets.clone();
        let mut grouped = vec![([0i64; 2], 0u64); self.observations.len()];
        for (id, values, time) in self.observations {
            if let Some(at) = next.get_mut(id as usize) {
                grouped[*at] = (values, time);
                *at += 1;
            }
        }
        Collected {
            tree: self.tree,
            names: self.names,
            keys,
            offsets,
            observations: grouped,
        }
    }
}

/// A finished window: its distinct samples in order, and what they refer to.
#[derive(Debug)]
pub(super) struct Collected {
    tree: StackTree,
    names: Vec<Arc<str>>,
    keys: Vec<Key>,
    /// Sample `i`'s observations are `observations[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<usize>,
    observations: Vec<Observation>,
}

impl Collected {
    /// The distinct samples.
    pub(super) fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The observations of sample `i` (an index into [`keys`](Self::keys)).
    pub(super) fn observations(&self, i: usize) -> &[Observation] {
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&start), Some(&end)) => self.observations.get(start..end).unwrap_or_default(),
            _ => &[],
        }
    }

    /// The addresses of `key`'s stack, leaf first.
    pub(super) fn frames(&self, key: &Key) -> impl Iterator<Item = u64> + '_ {
        self.tree.frames(key.stack)
    }

    /// The thread name of `key`.
    pub(super) fn thread_name(&self, key: &Key) -> Option<&str> {
        let i = (key.thread_name as usize).checked_sub(1)?;
        self.names.get(i).map(|n| &**n)
    }

    /// Every address a stack of the window holds, each once per role: as a leaf (the
    /// address itself) and as a caller (the address before it, the call instruction; a
    /// return address follows its call).
    pub(super) fn call_addresses(&self) -> impl Iterator<Item = u64> + '_ {
        let mut leaf = vec![false; self.tree.nodes.len()];
        for key in &self.keys {
            if let Some(l) = leaf.get_mut(key.stack as usize) {
                *l = true;
            }
        }
        let mut caller = vec![false; self.tree.nodes.len()];
        for (parent, _) in &self.tree.nodes {
            if let Some(c) = caller.get_mut(*parent as usize) {
                *c = true;
            }
        }
        self.tree
            .nodes
            .iter()
            .enumerate()
            .flat_map(move |(i, (_, pc))| {
                [
                    leaf[i].then_some(*pc),
                    caller[i].then(|| call_address(1, *pc)),
                ]
            })
            .flatten()
    }
}

/// The address to symbolize for frame `depth` at `pc`: a return address follows its call,
/// so callers' frames look up the call instruction.
pub(super) fn call_address(depth: usize, pc: u64) -> u64 {
    if depth == 0 { pc } else { pc.saturating_sub(1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(frames: &[u64], name: Option<&str>, t: u64) -> RawSample {
        RawSample {
            kind: ProfileType::Cpu,
            frames: frames.to_vec(),
            values: [1, 10],
            link: None,
            thread_id: 7,
            thread_name: name.map(Arc::from),
            thread_state: None,
            timestamp_unix_nano: t,
        }
    }

    #[test]
    fn stacks_share_their_callers_and_come_back_whole() {
        let mut w = Window::default();
        w.add(sample(&[0x30, 0x20, 0x10], Some("a"), 1));
        w.add(sample(&[0x31, 0x20, 0x10], Some("a"), 2));
        w.add(sample(&[0x30, 0x20, 0x10], Some("a"), 3));
        w.add(sample(&[0x20, 0x10], None, 4));
        w.add(sample(&[], Some("b"), 5));
        // 0x10, 0x20 shared; 0x30 and 0x31 the leaves.
        assert_eq!(w.tree.nodes.len(), 4);
        let c = w.finish();
        let stacks: Vec<Vec<u64>> = c.keys().iter().map(|k| c.frames(k).collect()).collect();
        assert_eq!(
            stacks,
            [
                vec![0x30, 0x20, 0x10],
                vec![0x31, 0x20, 0x10],
                vec![0x20, 0x10],
                vec![]
            ]
        );
        let names: Vec<Option<&str>> = c.keys().iter().map(|k| c.thread_name(k)).collect();
        assert_eq!(names, [Some("a"), Some("a"), None, Some("b")]);
        let times: Vec<Vec<u64>> = (0..4)
            .map(|i| c.observations(i).iter().map(|o| o.1).collect())
            .collect();
        assert_eq!(times, [vec![1, 3], vec![2], vec![4], vec![5]]);
        assert!(c.observations(4).is_empty());
    }

    #[test]
    fn addresses_come_as_leaves_and_as_callers() {
        let mut w = Window::default();
        w.add(sample(&[0x30, 0x20, 0x10], None, 1));
        w.add(sample(&[0x20, 0x10], None, 2));
        let c = w.finish();
        let mut addrs: Vec<u64> = c.call_addresses().collect();
        addrs.sort_unstable();
        // 0x20 is a leaf of one stack and a caller in the other.
        assert_eq!(addrs, [0x0f, 0x1f, 0x20, 0x30]);
    }
}
