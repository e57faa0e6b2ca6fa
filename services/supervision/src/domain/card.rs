//! A supervision card (督办卡, R14): drafted (拟办) → approved by a second supervisor
//! → issued, or issued at once; issued → acknowledged → in_progress → completed
//! (answered). Supervisors urge (催办) an issued card and transfer it (转办) to another
//! unit, which issues it afresh; past its deadline it escalates its case once.

use super::DomainError;

/// Where a card stands. `cards.state` holds exactly these (migration 1102).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardState {
    Draft,
    Approved,
    Issued,
    Acknowledged,
    InProgress,
    Completed,
}

impl CardState {
    pub const ALL: [CardState; 6] = [
        CardState::Draft,
        CardState::Approved,
        CardState::Issued,
        CardState::Acknowledged,
        CardState::InProgress,
        CardState::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CardState::Draft => "draft",
            CardState::Approved => "approved",
            CardState::Issued => "issued",
            CardState::Acknowledged => "acknowledged",
            CardState::InProgress => "in_progress",
            CardState::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The state a new card starts in.
    pub fn initial(draft: bool) -> Self {
        if draft {
            CardState::Draft
        } else {
            CardState::Issued
        }
    }

    /// With its undertaking unit and not yet answered: it can be urged, transferred
    /// and fall overdue.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            CardState::Issued | CardState::Acknowledged | CardState::InProgress
        )
    }
}

/// What can be done to a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// A supervisor approves a draft; `by_drafter` when it is the one who drafted it.
    Approve { by_drafter: bool },
    /// A supervisor issues an approved card to its unit.
    Issue,
    /// The unit (or a supervisor) acknowledges it.
    Acknowledge,
    /// The unit reports progress.
    Progress,
    /// The unit answers it.
    Complete,
    /// A supervisor urges the unit.
    Urge,
    /// A supervisor hands it to another unit: `same_unit` when it is the one that has
    /// it, `to_accused` when the new unit is the case's accused unit.
    Transfer { same_unit: bool, to_accused: bool },
    /// The sweep found it past its deadline.
    MarkOverdue,
}

impl Command {
    /// One of each command and flag, for tables and tests.
    pub const ALL: [Command; 12] = [
        Command::Approve { by_drafter: false },
        Command::Approve { by_drafter: true },
        Command::Issue,
        Command::Acknowledge,
        Command::Progress,
        Command::Complete,
        Command::Urge,
        Command::Transfer {
            same_unit: false,
            to_accused: false,
        },
        Command::Transfer {
            same_unit: true,
            to_accused: false,
        },
        Command::Transfer {
            same_unit: false,
            to_accused: true,
        },
        Command::Transfer {
            same_unit: true,
            to_accused: true,
        },
        Command::MarkOverdue,
    ];

    /// The verb, as refusals name it.
    fn verb(self) -> &'static str {
        match self {
            Command::Approve { .. } => "approve",
            Command::Issue => "issue",
            Command::Acknowledge => "acknowledge",
            Command::Progress => "report progress on",
            Command::Complete => "complete",
            Command::Urge => "urge",
            Command::Transfer { .. } => "transfer",
            Command::MarkOverdue => "mark overdue",
        }
    }
}

/// What a step asks the store and the outbox to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Record who approved it and when.
    RecordApproval,
    /// Record who acknowledged it and when.
    RecordAcknowledged,
    /// Keep the progress report.
    KeepReport,
    /// Record who answered it, when, and the result.
    RecordCompleted,
    /// Keep the urge notice.
    KeepUrge,
    /// Issue it (again) to a unit: `SupervisionCardIssued`.
    IssueToUnit,
    /// Mark it overdue and escalate its case one tier up (`CaseEscalated`).
    Escalate,
}

/// The card's one transition function.
pub fn apply(state: CardState, cmd: Command) -> Result<(CardState, Vec<Effect>), DomainError> {
    use CardState as S;
    use Effect as E;
    let illegal = || {
        Err(DomainError::IllegalTransition(format!(
            "cannot {} a card that is {}",
            cmd.verb(),
            state.as_str()
        )))
    };
    match (state, cmd) {
        (S::Draft, Command::Approve { by_drafter: true }) => Err(DomainError::Forbidden(
            "a draft is approved by another supervisor than its drafter".into(),
        )),
        (S::Draft, Command::Approve { by_drafter: false }) => {
            Ok((S::Approved, vec![E::RecordApproval]))
        }
        (S::Approved, Command::Issue) => Ok((S::Issued, vec![E::IssueToUnit])),
        (S::Issued, Command::Acknowledge) => Ok((S::Acknowledged, vec![E::RecordAcknowledged])),
        (S::Acknowledged | S::InProgress, Command::Progress) => {
            Ok((S::InProgress, vec![E::KeepReport]))
        }
        (S::Acknowledged | S::InProgress, Command::Complete) => {
            Ok((S::Completed, vec![E::RecordCompleted]))
        }
        (s, Command::Urge) if s.is_open() => Ok((s, vec![E::KeepUrge])),
        (
            s,
            Command::Transfer {
                same_unit,
                to_accused,
            },
        ) if s.is_open() => {
            if same_unit {
                Err(DomainError::Invalid {
                    field: "to_unit_id",
                    message: "the card is already with this unit".into(),
                })
            } else if to_accused {
                Err(DomainError::Invalid {
                    field: "to_unit_id",
                    message: "the accused unit may not undertake a card on this case".into(),
                })
            } else {
                Ok((S::Issued, vec![E::IssueToUnit]))
            }
        }
        (s, Command::MarkOverdue) if s.is_open() => Ok((s, vec![E::Escalate])),
        _ => illegal(),
    }
}

/// The states in which `cmd` is accepted.
pub fn accepting(cmd: Command) -> Vec<CardState> {
    CardState::ALL
        .into_iter()
        .filter(|s| apply(*s, cmd).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use CardState as S;
    use Effect as E;

    #[test]
    fn transitions_are_exhaustive() {
        type Want = Result<(S, &'static [Effect]), &'static str>;
        let approve = Command::Approve { by_drafter: false };
        let approve_own = Command::Approve { by_drafter: true };
        let tr = |same_unit, to_accused| Command::Transfer {
            same_unit,
            to_accused,
        };
        let mut table: Vec<(S, Command, Want)> = Vec::new();
        for s in CardState::ALL {
            let open = s.is_open();
            let row: [(Command, Want); 12] = [
                (
                    approve,
                    if s == S::Draft {
                        Ok((S::Approved, &[E::RecordApproval]))
                    } else {
                        Err("illegal")
                    },
                ),
                (
                    approve_own,
                    if s == S::Draft {
                        Err("forbidden")
                    } else {
                        Err("illegal")
                    },
                ),
                (
                    Command::Issue,
                    if s == S::Approved {
                        Ok((S::Issued, &[E::IssueToUnit]))
                    } else {
                        Err("illegal")
                    },
                ),
                (
                    Command::Acknowledge,
                    if s == S::Issued {
                        Ok((S::Acknowledged, &[E::RecordAcknowledged]))
                    } else {
                        Err("illegal")
                    },
                ),
                (
                    Command::Progress,
                    if matches!(s, S::Acknowledged | S::InProgress) {
                        Ok((S::InProgress, &[E::KeepReport]))
                    } else {
                        Err("illegal")
                    },
                ),
                (
                    Command::Complete,
                    if matches!(s, S::Acknowledged | S::InProgress) {
                        Ok((S::Completed, &[E::RecordCompleted]))
                    } else {
                        Err("illegal")
                    },
                ),
                (
                    Command::Urge,
                    if open {
                        Ok((s, &[E::KeepUrge]))
                    } else {
                        Err("illegal")
                    },
                ),
                (
                    tr(false, false),
                    if open {
                        Ok((S::Issued, &[E::IssueToUnit]))
                    } else {
                        Err("illegal")
                    },
                ),
                (
                    tr(true, false),
                    if open { Err("invalid") } else { Err("illegal") },
                ),
                (
                    tr(false, true),
                    if open { Err("invalid") } else { Err("illegal") },
                ),
                (
                    tr(true, true),
                    if open { Err("invalid") } else { Err("illegal") },
                ),
                (
                    Command::MarkOverdue,
                    if open {
                        Ok((s, &[E::Escalate]))
                    } else {
                        Err("illegal")
                    },
                ),
            ];
            table.extend(row.into_iter().map(|(c, w)| (s, c, w)));
        }
        // Every state × every command, once.
        assert_eq!(table.len(), CardState::ALL.len() * Command::ALL.len());
        for s in CardState::ALL {
            for c in Command::ALL {
                assert_eq!(
                    table
                        .iter()
                        .filter(|(ts, tc, _)| *ts == s && *tc == c)
                        .count(),
                    1,
                    "{s:?} × {c:?}"
                );
            }
        }
        for (s, c, want) in table {
            match (apply(s, c), want) {
                (Ok((to, fx)), Ok((wto, wfx))) => {
                    assert_eq!((to, fx.as_slice()), (wto, wfx), "{s:?} × {c:?}");
                }
                (Err(e), Err(kind)) => {
                    let k = match e {
                        DomainError::IllegalTransition(_) => "illegal",
                        DomainError::Forbidden(_) => "forbidden",
                        DomainError::Invalid { .. } => "invalid",
                        DomainError::NotLive(_) => "not_live",
                    };
                    assert_eq!(k, kind, "{s:?} × {c:?}: {e}");
                }
                (got, want) => panic!("{s:?} × {c:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn the_happy_paths_reach_completed() {
        for draft in [true, false] {
            let mut s = CardState::initial(draft);
            let steps: &[Command] = if draft {
                &[
                    Command::Approve { by_drafter: false },
                    Command::Issue,
                    Command::Acknowledge,
                    Command::Progress,
                    Command::Complete,
                ]
            } else {
                &[Command::Acknowledge, Command::Progress, Command::Complete]
            };
            for c in steps {
                s = apply(s, *c).expect("legal").0;
            }
            assert_eq!(s, CardState::Completed);
        }
    }

    #[test]
    fn states_round_trip_and_refusals_name_the_state() {
        for s in CardState::ALL {
            assert_eq!(CardState::parse(s.as_str()), Some(s));
        }
        assert_eq!(CardState::parse("overdue"), None);
        assert_eq!(
            accepting(Command::MarkOverdue),
            [S::Issued, S::Acknowledged, S::InProgress]
        );
        assert_eq!(
            apply(S::Completed, Command::Urge),
            Err(DomainError::IllegalTransition(
                "cannot urge a card that is completed".into()
            ))
        );
    }
}
