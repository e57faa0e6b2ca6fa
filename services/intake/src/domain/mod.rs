//! intake's pure rules: what a registration must hold, who may read a register entry,
//! what the public list shows, and the public budgets.

pub mod public;
pub mod rate;
pub mod reader;
pub mod register;
