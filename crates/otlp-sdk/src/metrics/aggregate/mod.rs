//! Aggregations: how measurements of one series become a data point.

pub(crate) mod buckets;
pub(crate) mod exponential;
pub(crate) mod exponential_mapping;
pub(crate) mod histogram;
pub(crate) mod last_value;
pub(crate) mod point;
pub(crate) mod sum;
