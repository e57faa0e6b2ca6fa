//! Scheduling's pure rules: reception rules and the dates they give, annual plans and
//! their checks, sessions, swaps, the duty roster, appointments, follow-up visits and the
//! iCalendar rendering. No I/O here.

pub mod appointment;
pub mod follow_up;
pub mod ics;
pub mod plan;
pub mod roster;
pub mod rules;
pub mod session;

/// One failing input field: its path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub field: String,
    pub message: String,
}

impl Issue {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Issue {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why a command was refused by a state machine or a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The thing is in a state that does not allow the command (409).
    State(String),
    /// A rule forbids it: the rule's name and why (409, naming the rule).
    Rule { rule: &'static str, detail: String },
    /// Bad input (422).
    Invalid(Vec<Issue>),
    /// The caller may not do this (403).
    Forbidden(String),
}
