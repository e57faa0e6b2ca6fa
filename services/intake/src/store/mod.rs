//! SQL of intake's newer tables: the read audit and the public rate limits.

pub mod audit;
pub mod rate;
