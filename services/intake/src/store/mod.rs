//! intake's SQL: the registration transaction, the read audit and the public rate limits.

pub mod audit;
pub mod idempotency;
pub mod rate;
pub mod register;
