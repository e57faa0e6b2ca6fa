//! supervision's SQL: FromRow structs and the queries; nothing else touches its schema
//! (the oversight registry, ownership, accountability and notices still hold theirs).

pub mod cards;
pub mod clocks;
pub mod policies;
