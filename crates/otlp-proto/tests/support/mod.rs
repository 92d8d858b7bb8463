pub mod check;
pub mod fixtures;
pub mod json_variants;
pub mod mutate;
pub mod strategies;
pub mod to_prost;
