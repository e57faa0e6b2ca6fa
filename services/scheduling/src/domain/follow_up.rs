//! Follow-up visits (回访, R28): due within the office's period after a case is settled,
//! assigned to a staff member, completed by that person with an outcome; past due
//! without completion it is overdue.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Issue, Refusal};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Due,
    Assigned,
    Overdue,
    Completed,
    Cancelled,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Due,
        State::Assigned,
        State::Overdue,
        State::Completed,
        State::Cancelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            State::Due => "due",
            State::Assigned => "assigned",
            State::Overdue => "overdue",
            State::Completed => "completed",
            State::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// How satisfied the petitioner said they were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    Satisfied,
    BasicallySatisfied,
    NotSatisfied,
}

impl Satisfaction {
    pub fn as_str(self) -> &'static str {
        match self {
            Satisfaction::Satisfied => "satisfied",
            Satisfaction::BasicallySatisfied => "basically_satisfied",
            Satisfaction::NotSatisfied => "not_satisfied",
        }
    }
}

/// The outcome of a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// Whether the petitioner was reached.
    pub reached: bool,
    /// Required when reached; absent when not.
    #[serde(default)]
    pub satisfaction: Option<Satisfaction>,
    /// Whether the matter may come back (反弹).
    pub rebound_risk: bool,
}

impl Outcome {
    pub fn validate(&self) -> Result<(), Vec<Issue>> {
        match (self.reached, self.satisfaction) {
            (true, None) => Err(vec![Issue::new(
                "satisfaction",
                "is required when the petitioner was reached",
            )]),
            (false, Some(_)) => Err(vec![Issue::new(
                "satisfaction",
                "cannot be given when the petitioner was not reached",
            )]),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    Assign {
        to: &'a str,
    },
    Complete {
        by: &'a str,
        assignee: Option<&'a str>,
    },
    MarkOverdue,
}

/// The follow-up's one transition function.
pub fn transition(state: State, cmd: &Command<'_>) -> Result<State, Refusal> {
    use State as S;
    match (state, cmd) {
        (S::Due | S::Assigned, Command::Assign { .. }) => Ok(S::Assigned),
        (S::Overdue, Command::Assign { .. }) => Ok(S::Overdue),
        (S::Due, Command::Complete { .. }) => Err(Refusal::State(
            "the follow-up is not assigned yet: assign it first".into(),
        )),
        (S::Assigned | S::Overdue, Command::Complete { by, assignee }) => match assignee {
            Some(a) if a == by => Ok(S::Completed),
            Some(a) => Err(Refusal::Forbidden(format!(
                "this follow-up is assigned to {a}; only they can complete it"
            ))),
            None => Err(Refusal::State(
                "the follow-up is not assigned yet: assign it first".into(),
            )),
        },
        (S::Due | S::Assigned, Command::MarkOverdue) => Ok(S::Overdue),
        (S::Overdue, Command::MarkOverdue) => Err(Refusal::State("already overdue".into())),
        (S::Completed, _) => Err(Refusal::State("the follow-up is already completed".into())),
        (S::Cancelled, _) => Err(Refusal::State("the follow-up is cancelled".into())),
    }
}

/// When a follow-up is due: `hours` after the case was settled.
pub fn due_at(settled_at: DateTime<Utc>, hours: i32) -> DateTime<Utc> {
    settled_at + Duration::hours(i64::from(hours.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_are_exhaustive() {
        use State as S;
        let assign = Command::Assign { to: "a" };
        let mine = Command::Complete {
            by: "a",
            assignee: Some("a"),
        };
        let theirs = Command::Complete {
            by: "b",
            assignee: Some("a"),
        };
        let unassigned = Command::Complete {
            by: "a",
            assignee: None,
        };
        let overdue = Command::MarkOverdue;
        let table: [(S, &Command<'_>, Result<S, &str>); 20] = [
            (S::Due, &assign, Ok(S::Assigned)),
            (S::Due, &mine, Err("state")),
            (S::Due, &theirs, Err("state")),
            (S::Due, &overdue, Ok(S::Overdue)),
            (S::Assigned, &assign, Ok(S::Assigned)),
            (S::Assigned, &mine, Ok(S::Completed)),
            (S::Assigned, &theirs, Err("forbidden")),
            (S::Assigned, &overdue, Ok(S::Overdue)),
            (S::Overdue, &assign, Ok(S::Overdue)),
            (S::Overdue, &mine, Ok(S::Completed)),
            (S::Overdue, &theirs, Err("forbidden")),
            (S::Overdue, &overdue, Err("state")),
            (S::Overdue, &unassigned, Err("state")),
            (S::Completed, &assign, Err("state")),
            (S::Completed, &mine, Err("state")),
            (S::Completed, &overdue, Err("state")),
            (S::Cancelled, &assign, Err("state")),
            (S::Cancelled, &mine, Err("state")),
            (S::Cancelled, &overdue, Err("state")),
            (S::Assigned, &unassigned, Err("state")),
        ];
        for (s, c, want) in table {
            let got = transition(s, c).map_err(|e| match e {
                Refusal::Forbidden(_) => "forbidden",
                _ => "state",
            });
            assert_eq!(got, want, "{s:?} {c:?}");
        }
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn outcomes_and_due() {
        let ok = Outcome {
            reached: true,
            satisfaction: Some(Satisfaction::Satisfied),
            rebound_risk: false,
        };
        assert!(ok.validate().is_ok());
        assert!(
            Outcome {
                satisfaction: None,
                ..ok
            }
            .validate()
            .is_err()
        );
        assert!(
            Outcome {
                reached: false,
                ..ok
            }
            .validate()
            .is_err()
        );
        assert!(
            Outcome {
                reached: false,
                satisfaction: None,
                rebound_risk: true
            }
            .validate()
            .is_ok()
        );
        let t = DateTime::parse_from_rfc3339("2025-03-01T10:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        assert_eq!(due_at(t, 168) - t, Duration::days(7));
        assert_eq!(due_at(t, 24) - t, Duration::hours(24));
    }
}
