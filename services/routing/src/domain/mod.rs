//! routing's pure rules: the case's states and the workbench's state machine, the
//! reference data (units, responsibility rules) and the dispatch decision, the joint
//! consultation's readiness. No I/O here: no sqlx, no actix.

pub mod case;
pub mod catalog;
pub mod consultation;
pub mod decide;
pub mod rules;

use std::fmt;

pub use case::{CaseState, CaseTier, Command, Effect, Extension, Pending, ReplyOutcome, Workbench};

/// Why the domain refused a command. Mapped to problem+json in one place
/// (`routes::problem`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainError {
    /// The state machine does not allow the move in this state (409).
    Illegal {
        verb: &'static str,
        status: CaseState,
        extension: Extension,
    },
    /// The handling period was extended (or asked to be) already (409).
    ExtendedOnce(Extension),
    /// A consultation on a case without assisting units (409).
    NoConsultation,
    /// The joint consultation must come before the reply: what is missing (409).
    ConsultationFirst(String),
    /// Another rule a case could match with equal specificity in an overlapping
    /// period (409).
    Ambiguous { rule: String, version: i32 },
    /// The version has ended already (409).
    Ended(String),
    /// Bad input: each failing field and why (422).
    Invalid(Vec<(String, String)>),
    /// The caller may not do this (403).
    Forbidden(String),
}

impl DomainError {
    pub fn invalid(field: &str, message: impl Into<String>) -> DomainError {
        DomainError::Invalid(vec![(field.to_owned(), message.into())])
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DomainError::Illegal {
                verb,
                status,
                extension,
            } => {
                write!(f, "cannot {verb} a case that is {status}")?;
                if *extension != Extension::None {
                    write!(f, " (extension {extension})")?;
                }
                Ok(())
            }
            DomainError::ExtendedOnce(e) => write!(
                f,
                "the handling period may be extended once; this case's extension is {e}"
            ),
            DomainError::NoConsultation => {
                f.write_str("the case has no assisting units: no joint consultation")
            }
            DomainError::ConsultationFirst(missing) => {
                write!(
                    f,
                    "the joint consultation (联合会商) comes first: {missing}"
                )
            }
            DomainError::Ambiguous { rule, version } => write!(
                f,
                "rule {rule} version {version} covers the same category, place and number of flags in an \
                 overlapping period: a case could match both with equal specificity"
            ),
            DomainError::Ended(why) => f.write_str(why),
            DomainError::Invalid(v) => f.write_str(
                &v.iter()
                    .map(|(k, m)| format!("{k}: {m}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            DomainError::Forbidden(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for DomainError {}
