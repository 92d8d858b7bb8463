//! Aggregations: how measurements of one series become a data point.

// Work in progress on branch `metrics` (issue 14): the aggregators that use these land next.
#![cfg_attr(not(test), allow(dead_code))]

pub(crate) mod buckets;
pub(crate) mod exponential;
pub(crate) mod exponential_mapping;
pub(crate) mod histogram;
pub(crate) mod last_value;
pub(crate) mod point;
pub(crate) mod sum;
