//! supervision's pure rules: the clock and card state machines, the deadline
//! arithmetic and the timers a clock gets. No I/O here: no sqlx, no actix.

pub mod card;
pub mod clock;
pub mod escalation;
pub mod ownership;

/// Why a state machine or a rule refused a command. Mapped to problem+json in one
/// place (`routes::problem`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainError {
    /// The thing is in a state that does not allow the command (409, `illegal_transition`).
    IllegalTransition(String),
    /// There is no live thing to act on (409, `conflict`).
    NotLive(String),
    /// The caller may not do this (403).
    Forbidden(String),
    /// Bad input: the field and what is wrong with it (422).
    Invalid {
        field: &'static str,
        message: String,
    },
}

impl std::fmt::Display for DomainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DomainError::IllegalTransition(m)
            | DomainError::NotLive(m)
            | DomainError::Forbidden(m) => f.write_str(m),
            DomainError::Invalid { field, message } => write!(f, "{field}: {message}"),
        }
    }
}

impl std::error::Error for DomainError {}
