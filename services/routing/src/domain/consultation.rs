//! The joint consultation (联合会商, R11): where a case has assisting units, the lead and
//! every assisting unit give a written opinion and the lead unit records the meeting
//! before it replies, once per handling round.

use super::DomainError;
use super::case::{Command, Workbench, apply};

/// One handling round's consultation: who takes part and what is on record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    pub lead: String,
    pub assisting: Vec<String>,
    /// The units whose opinion is on record.
    pub opinions_from: Vec<String>,
    pub meeting: bool,
}

impl Round {
    pub fn required(&self) -> bool {
        !self.assisting.is_empty()
    }

    /// The lead, then every assisting unit.
    pub fn units(&self) -> Vec<String> {
        participants(&self.lead, &self.assisting)
    }

    /// The units whose opinion is still missing.
    pub fn missing(&self) -> Vec<String> {
        self.units()
            .into_iter()
            .filter(|u| !self.opinions_from.contains(u))
            .collect()
    }

    pub fn ready(&self) -> bool {
        self.missing().is_empty() && self.meeting
    }

    fn missing_text(&self) -> String {
        let mut parts = Vec::new();
        let missing = self.missing();
        if !missing.is_empty() {
            parts.push(format!(
                "written opinions missing from {}",
                missing.join(", ")
            ));
        }
        if !self.meeting {
            parts.push("no meeting record".to_owned());
        }
        parts.join("; ")
    }

    /// A case with assisting units is replied to after its consultation.
    pub fn before_reply(&self) -> Result<(), DomainError> {
        if self.required() && !self.ready() {
            return Err(DomainError::ConsultationFirst(self.missing_text()));
        }
        Ok(())
    }
}

/// The lead, then every assisting unit.
pub fn participants(lead: &str, assisting: &[String]) -> Vec<String> {
    let mut units = vec![lead.to_owned()];
    units.extend(assisting.iter().cloned());
    units
}

/// Whether opinions and the meeting may be recorded now: the case has assisting
/// units and is being handled.
pub fn may_consult(assisting: &[String], state: Workbench) -> Result<(), DomainError> {
    if assisting.is_empty() {
        return Err(DomainError::NoConsultation);
    }
    apply(state, Command::Consult).map(|_| ())
}

/// The units that must take part in the meeting but are not named among `named`.
pub fn absent(lead: &str, assisting: &[String], named: &[String]) -> Vec<String> {
    participants(lead, assisting)
        .into_iter()
        .filter(|u| !named.iter().any(|p| p.trim() == u.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CaseState, Extension, Pending};

    fn round(opinions: &[&str], meeting: bool) -> Round {
        Round {
            lead: "a".into(),
            assisting: vec!["b".into(), "c".into()],
            opinions_from: opinions.iter().map(|s| (*s).to_owned()).collect(),
            meeting,
        }
    }

    #[test]
    fn ready_after_every_opinion_and_the_meeting() {
        assert_eq!(round(&[], false).missing(), vec!["a", "b", "c"]);
        let e = round(&["b"], false).before_reply().expect_err("not ready");
        assert_eq!(
            e.to_string(),
            "the joint consultation (联合会商) comes first: written opinions missing from a, c; no meeting record"
        );
        assert!(round(&["a", "b", "c"], false).before_reply().is_err());
        assert!(round(&["a", "b", "c"], true).before_reply().is_ok());
        let alone = Round {
            lead: "a".into(),
            assisting: Vec::new(),
            opinions_from: Vec::new(),
            meeting: false,
        };
        assert!(!alone.required());
        assert!(alone.before_reply().is_ok());
    }

    #[test]
    fn consulting_needs_assisting_units_and_an_accepted_case() {
        let w = |s| Workbench::new(s, Extension::None, Pending::None);
        let units = vec!["b".to_owned()];
        assert_eq!(
            may_consult(&[], w(CaseState::Accepted)),
            Err(DomainError::NoConsultation)
        );
        for s in CaseState::ALL {
            assert_eq!(
                may_consult(&units, w(s)).is_ok(),
                s == CaseState::Accepted,
                "{s}"
            );
        }
        assert_eq!(absent("a", &units, &[" a ".into()]), vec!["b".to_owned()]);
    }
}
