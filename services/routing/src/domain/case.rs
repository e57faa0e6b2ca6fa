//! A case's handling path as routing keeps it: its status, the one extension of the
//! handling period and what waits for the dispatching office's decision; and the one
//! transition function that says which moves are legal and what each one sets off.

use std::fmt;

use super::DomainError;

/// Where a case stands in routing (`cases.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseState {
    /// With its lead unit, not yet accepted.
    Dispatched,
    /// The lead unit asked the dispatching office to hand it on (退单/改派).
    TransferRequested,
    /// Accepted and being handled.
    Accepted,
    /// The written reply is issued.
    Replied,
    Closed,
    NotAccepted,
    /// A repeat petition, linked to its original (R7).
    Linked,
    /// Handed above the county, to the city level.
    City,
}

impl CaseState {
    pub const ALL: [CaseState; 8] = [
        CaseState::Dispatched,
        CaseState::TransferRequested,
        CaseState::Accepted,
        CaseState::Replied,
        CaseState::Closed,
        CaseState::NotAccepted,
        CaseState::Linked,
        CaseState::City,
    ];

    /// The states in which a case is still being handled.
    pub const OPEN: [CaseState; 4] = [
        CaseState::Dispatched,
        CaseState::TransferRequested,
        CaseState::Accepted,
        CaseState::Replied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Dispatched => "dispatched",
            CaseState::TransferRequested => "transfer_requested",
            CaseState::Accepted => "accepted",
            CaseState::Replied => "replied",
            CaseState::Closed => "closed",
            CaseState::NotAccepted => "not_accepted",
            CaseState::Linked => "linked",
            CaseState::City => "city",
        }
    }

    pub fn parse(s: &str) -> Option<CaseState> {
        CaseState::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn is_open(self) -> bool {
        CaseState::OPEN.contains(&self)
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one extension of the handling period (信访条例 Art. 33), `cases.extension`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Extension {
    None,
    Requested,
    Approved,
    Rejected,
}

impl Extension {
    pub const ALL: [Extension; 4] = [
        Extension::None,
        Extension::Requested,
        Extension::Approved,
        Extension::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Extension::None => "none",
            Extension::Requested => "requested",
            Extension::Approved => "approved",
            Extension::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Extension> {
        Extension::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The written reply's outcome (`cases.reply_outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyOutcome {
    /// 支持
    Support,
    /// 解释
    Explain,
    /// 不予支持
    NotSupport,
}

impl ReplyOutcome {
    pub const ALL: [ReplyOutcome; 3] = [
        ReplyOutcome::Support,
        ReplyOutcome::Explain,
        ReplyOutcome::NotSupport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReplyOutcome::Support => "support",
            ReplyOutcome::Explain => "explain",
            ReplyOutcome::NotSupport => "not_support",
        }
    }

    pub fn parse(s: &str) -> Option<ReplyOutcome> {
        ReplyOutcome::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The tier a case is handled at (`cases.tier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseTier {
    Village,
    Township,
    County,
    City,
}

impl CaseTier {
    pub const ALL: [CaseTier; 4] = [
        CaseTier::Village,
        CaseTier::Township,
        CaseTier::County,
        CaseTier::City,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaseTier::Village => "village",
            CaseTier::Township => "township",
            CaseTier::County => "county",
            CaseTier::City => "city",
        }
    }

    pub fn parse(s: &str) -> Option<CaseTier> {
        CaseTier::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The tier name of a jurisdiction code (`cases.tier`).
pub fn tier_label(code: &str) -> &'static str {
    xf_events::tier_name(xf_events::tier_of_code(code))
}

/// What waits for the dispatching office's decision (`cases.pending`, its `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    None,
    /// A transfer request; rejected, the case goes back to `back_to`.
    Transfer {
        back_to: CaseState,
    },
    /// An extension request for `days`.
    Extension {
        days: u32,
    },
    /// Something this version does not read (no decision can be taken on it).
    Unknown,
}

/// A case as the workbench's state machine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workbench {
    pub status: CaseState,
    pub extension: Extension,
    pub pending: Pending,
}

impl Workbench {
    pub fn new(status: CaseState, extension: Extension, pending: Pending) -> Workbench {
        Workbench {
            status,
            extension,
            pending,
        }
    }

    /// The same extension, nothing pending, in `status`.
    fn settled(self, status: CaseState) -> Workbench {
        Workbench::new(status, self.extension, Pending::None)
    }
}

/// What may be done to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// The lead unit accepts the case (受理).
    Accept,
    /// The lead unit does not accept it (不予受理): it closes.
    NotAccept,
    /// The lead unit asks to hand it to another unit.
    RequestTransfer,
    /// The dispatching office approves or rejects the transfer.
    DecideTransfer {
        approve: bool,
    },
    /// The lead unit asks for the one extension.
    RequestExtension {
        days: u32,
    },
    /// The dispatching office approves or rejects it.
    DecideExtension {
        approve: bool,
    },
    /// The written reply; in a re-review (复核) it ends the matter.
    Reply {
        rereview: bool,
    },
    Close,
    /// A joint consultation's opinion or meeting record (no change of state).
    Consult,
    /// A case linked as a repeat is a different matter: dispatched by the rules.
    Unlink,
    /// Supervision escalated it (overdue): one tier up, or to the city above a county.
    Escalate {
        to_city: bool,
    },
    /// The petitioner asked for review or re-review: one tier up, or to the city.
    Review {
        to_city: bool,
    },
}

impl Command {
    /// Every command, each flag both ways (for tables and exhaustive tests).
    pub const ALL: [Command; 17] = [
        Command::Accept,
        Command::NotAccept,
        Command::RequestTransfer,
        Command::DecideTransfer { approve: true },
        Command::DecideTransfer { approve: false },
        Command::RequestExtension { days: 10 },
        Command::DecideExtension { approve: true },
        Command::DecideExtension { approve: false },
        Command::Reply { rereview: false },
        Command::Reply { rereview: true },
        Command::Close,
        Command::Consult,
        Command::Unlink,
        Command::Escalate { to_city: false },
        Command::Escalate { to_city: true },
        Command::Review { to_city: false },
        Command::Review { to_city: true },
    ];

    /// The action's name: what the console offers.
    pub fn name(self) -> &'static str {
        match self {
            Command::Accept => "accept",
            Command::NotAccept => "not_accept",
            Command::RequestTransfer => "transfer",
            Command::DecideTransfer { .. } => "transfer_decision",
            Command::RequestExtension { .. } => "extension",
            Command::DecideExtension { .. } => "extension_decision",
            Command::Reply { .. } => "reply",
            Command::Close => "close",
            Command::Consult => "consult",
            Command::Unlink => "unlink",
            Command::Escalate { .. } => "escalate",
            Command::Review { .. } => "review",
        }
    }

    /// How a refusal names the move: "cannot {verb} a case that is …".
    pub fn verb(self) -> &'static str {
        match self {
            Command::Accept => "accept",
            Command::NotAccept => "not accept",
            Command::RequestTransfer => "ask to transfer",
            Command::DecideTransfer { .. } => "decide a transfer for",
            Command::RequestExtension { .. } => "ask for an extension of",
            Command::DecideExtension { .. } => "decide an extension for",
            Command::Reply { .. } => "reply to",
            Command::Close => "close",
            Command::Consult => "consult on",
            Command::Unlink => "unlink",
            Command::Escalate { .. } => "escalate",
            Command::Review { .. } => "review",
        }
    }
}

/// Announcements (events on the bus) a move makes; the route fills in their payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announce {
    Accepted,
    NotAccepted,
    Closed { not_accepted: bool },
    Transferred,
    Dispatched,
    DeadlineExtended { days: u32 },
    ReplyIssued,
}

/// What a legal move sets off besides the new state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The history entry (`case_history.action`).
    Record(&'static str),
    /// An event to announce.
    Announce(Announce),
    /// The lead unit becomes the transfer's target.
    ChangeUnit,
    /// The re-review's reply ends the matter (Art. 35): the same facts are not
    /// accepted again.
    ConcludeRereview,
    /// Decided again by the rules (one tier up for escalations and reviews).
    Redispatch,
    /// Handed above the county, to the city level.
    HandToCity,
}

/// The workbench's one transition function: the state after `cmd` and what the move
/// sets off, or why it is refused.
pub fn apply(s: Workbench, cmd: Command) -> Result<(Workbench, Vec<Effect>), DomainError> {
    use Announce as A;
    use CaseState as S;
    use Effect as E;
    let refused = || DomainError::Illegal {
        verb: cmd.verb(),
        status: s.status,
        extension: s.extension,
    };
    // Up one tier: a new decision (the extension starts afresh) or the city level.
    let up = |to_city: bool| {
        if to_city {
            (s.settled(S::City), vec![E::HandToCity])
        } else {
            (
                Workbench::new(S::Dispatched, Extension::None, Pending::None),
                vec![E::Redispatch],
            )
        }
    };
    match (s.status, cmd) {
        (S::Dispatched, Command::Accept) => Ok((
            s.settled(S::Accepted),
            vec![E::Record("accepted"), E::Announce(A::Accepted)],
        )),
        (S::Dispatched, Command::NotAccept) => Ok((
            s.settled(S::NotAccepted),
            vec![
                E::Record("not_accepted"),
                E::Announce(A::NotAccepted),
                E::Announce(A::Closed { not_accepted: true }),
            ],
        )),
        (S::Dispatched | S::Accepted, Command::RequestTransfer) => Ok((
            Workbench::new(
                S::TransferRequested,
                s.extension,
                Pending::Transfer { back_to: s.status },
            ),
            vec![E::Record("transfer_requested")],
        )),
        (S::TransferRequested, Command::DecideTransfer { approve }) => match s.pending {
            Pending::Transfer { .. } if approve => Ok((
                Workbench::new(S::Dispatched, Extension::None, Pending::None),
                vec![
                    E::Record("transferred"),
                    E::ChangeUnit,
                    E::Announce(A::Transferred),
                    E::Announce(A::Dispatched),
                ],
            )),
            Pending::Transfer { back_to } => {
                Ok((s.settled(back_to), vec![E::Record("transfer_rejected")]))
            }
            _ => Err(refused()),
        },
        (S::Accepted, Command::RequestExtension { days }) => match s.extension {
            Extension::None => Ok((
                Workbench::new(
                    S::Accepted,
                    Extension::Requested,
                    Pending::Extension { days },
                ),
                vec![E::Record("extension_requested")],
            )),
            e => Err(DomainError::ExtendedOnce(e)),
        },
        // The decision reads the request, whatever happened to the case since.
        (_, Command::DecideExtension { approve }) => match (s.extension, s.pending) {
            (Extension::Requested, Pending::Extension { days }) if approve => Ok((
                Workbench::new(s.status, Extension::Approved, Pending::None),
                vec![
                    E::Record("extension_approved"),
                    E::Announce(A::DeadlineExtended { days }),
                ],
            )),
            (Extension::Requested, Pending::Extension { .. }) => Ok((
                Workbench::new(s.status, Extension::Rejected, Pending::None),
                vec![E::Record("extension_rejected")],
            )),
            _ => Err(refused()),
        },
        (S::Accepted, Command::Reply { rereview }) => {
            let mut fx = vec![E::Record("replied"), E::Announce(A::ReplyIssued)];
            if rereview {
                fx.push(E::ConcludeRereview);
            }
            Ok((s.settled(S::Replied), fx))
        }
        (S::Replied, Command::Close) => Ok((
            s.settled(S::Closed),
            vec![
                E::Record("closed"),
                E::Announce(A::Closed {
                    not_accepted: false,
                }),
            ],
        )),
        (S::Accepted, Command::Consult) => Ok((s, Vec::new())),
        (S::Linked, Command::Unlink) => Ok((
            Workbench::new(S::Dispatched, Extension::None, Pending::None),
            vec![E::Redispatch],
        )),
        (st, Command::Escalate { to_city }) if st.is_open() => Ok(up(to_city)),
        (S::Replied | S::Closed, Command::Review { to_city }) => Ok(up(to_city)),
        (
            _,
            Command::Accept
            | Command::NotAccept
            | Command::RequestTransfer
            | Command::DecideTransfer { .. }
            | Command::RequestExtension { .. }
            | Command::Reply { .. }
            | Command::Close
            | Command::Consult
            | Command::Unlink
            | Command::Escalate { .. }
            | Command::Review { .. },
        ) => Err(refused()),
    }
}

/// The moves legal now, by name (the console offers only these), derived from [`apply`].
pub fn allowed(s: Workbench) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for c in Command::ALL {
        if apply(s, c).is_ok() && !names.contains(&c.name()) {
            names.push(c.name());
        }
    }
    names
}

/// The moves the lead unit's handlers may make now (what the console offers them),
/// derived from [`apply`].
pub fn lead_actions(s: Workbench) -> Vec<&'static str> {
    const LEAD: [&str; 6] = [
        "accept",
        "not_accept",
        "transfer",
        "extension",
        "reply",
        "close",
    ];
    allowed(s)
        .into_iter()
        .filter(|a| LEAD.contains(a))
        .collect()
}

/// The transfer's target must be another unit, and never the accused one.
pub fn transfer_target(
    current_unit: &str,
    excluded_unit: Option<&str>,
    target: &str,
) -> Result<(), DomainError> {
    if current_unit == target {
        return Err(DomainError::invalid(
            "to_unit_id",
            "the case is already with this unit",
        ));
    }
    if excluded_unit == Some(target) {
        return Err(DomainError::invalid(
            "to_unit_id",
            "this unit may not receive the case",
        ));
    }
    Ok(())
}

/// Sending a case back to a unit it already left (passing it to and fro) is the
/// supervising office's decision, not the dispatching office's alone.
pub fn send_back(
    back: bool,
    approve: bool,
    supervises: bool,
    to_unit: &str,
) -> Result<(), DomainError> {
    if back && approve && !supervises {
        return Err(DomainError::Forbidden(format!(
            "{to_unit} already handed this case on: sending it back needs a supervisor's approval"
        )));
    }
    Ok(())
}

/// Whether the reply is delivered: an anonymous item has nobody to deliver it to (R3).
pub fn delivery(anonymous: bool, deliver: bool) -> Result<bool, DomainError> {
    if anonymous && deliver {
        return Err(DomainError::invalid(
            "deliver",
            "an anonymous item has nobody to deliver a reply to; record the result with deliver: false",
        ));
    }
    Ok(deliver && !anonymous)
}

/// Whether a reply at this review level ends the matter: the re-review's (复核, level 2).
pub fn concludes(review_level: i16) -> bool {
    review_level >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    use CaseState as S;
    use Command as C;

    fn wb(status: CaseState) -> Workbench {
        Workbench::new(status, Extension::None, Pending::None)
    }

    #[test]
    fn names_round_trip() {
        for s in CaseState::ALL {
            assert_eq!(CaseState::parse(s.as_str()), Some(s));
        }
        for e in Extension::ALL {
            assert_eq!(Extension::parse(e.as_str()), Some(e));
        }
        for o in ReplyOutcome::ALL {
            assert_eq!(ReplyOutcome::parse(o.as_str()), Some(o));
        }
        for t in CaseTier::ALL {
            assert_eq!(CaseTier::parse(t.as_str()), Some(t));
        }
        assert_eq!(CaseState::parse("open"), None);
        assert_eq!(Extension::parse(""), None);
    }

    /// The table: for every state (nothing pending) and every command, the state after
    /// it, or None when refused.
    fn expected(s: CaseState, c: Command) -> Option<CaseState> {
        match (s, c) {
            (S::Dispatched, C::Accept) => Some(S::Accepted),
            (S::Dispatched, C::NotAccept) => Some(S::NotAccepted),
            (S::Dispatched | S::Accepted, C::RequestTransfer) => Some(S::TransferRequested),
            (S::Accepted, C::RequestExtension { .. }) => Some(S::Accepted),
            (S::Accepted, C::Reply { .. }) => Some(S::Replied),
            (S::Replied, C::Close) => Some(S::Closed),
            (S::Accepted, C::Consult) => Some(S::Accepted),
            (S::Linked, C::Unlink) => Some(S::Dispatched),
            (
                S::Dispatched | S::TransferRequested | S::Accepted | S::Replied,
                C::Escalate { to_city },
            )
            | (S::Replied | S::Closed, C::Review { to_city }) => {
                Some(if to_city { S::City } else { S::Dispatched })
            }
            _ => None,
        }
    }

    #[test]
    fn every_state_and_every_command_without_anything_pending() {
        let mut legal = 0;
        for s in CaseState::ALL {
            for c in Command::ALL {
                let got = apply(wb(s), c);
                match expected(s, c) {
                    Some(to) => {
                        let (after, fx) = got.unwrap_or_else(|e| panic!("{s} {c:?}: {e}"));
                        assert_eq!(after.status, to, "{s} {c:?}");
                        legal += 1;
                        if c != C::Consult {
                            assert!(!fx.is_empty(), "{s} {c:?} sets something off");
                        }
                    }
                    None => {
                        let e = got.expect_err(&format!("{s} {c:?} is refused"));
                        assert_eq!(
                            e,
                            DomainError::Illegal {
                                verb: c.verb(),
                                status: s,
                                extension: Extension::None
                            },
                            "{s} {c:?}"
                        );
                        assert_eq!(
                            e.to_string(),
                            format!("cannot {} a case that is {s}", c.verb())
                        );
                    }
                }
            }
        }
        // 8 states × 17 commands; the legal ones counted by hand from the table.
        assert_eq!(legal, 22);
    }

    #[test]
    fn every_state_with_every_extension_and_pending() {
        let pendings = [
            Pending::None,
            Pending::Transfer {
                back_to: S::Accepted,
            },
            Pending::Transfer {
                back_to: S::Dispatched,
            },
            Pending::Extension { days: 7 },
            Pending::Unknown,
        ];
        for s in CaseState::ALL {
            for e in Extension::ALL {
                for p in pendings {
                    let w = Workbench::new(s, e, p);
                    for c in Command::ALL {
                        let got = apply(w, c);
                        match c {
                            C::DecideTransfer { approve } => match (s, p) {
                                (S::TransferRequested, Pending::Transfer { back_to }) => {
                                    let (after, fx) = got.expect("decided");
                                    if approve {
                                        assert_eq!(
                                            after,
                                            Workbench::new(
                                                S::Dispatched,
                                                Extension::None,
                                                Pending::None
                                            )
                                        );
                                        assert!(fx.contains(&Effect::ChangeUnit));
                                        assert!(
                                            fx.contains(&Effect::Announce(Announce::Dispatched))
                                        );
                                    } else {
                                        assert_eq!(
                                            after,
                                            Workbench::new(back_to, e, Pending::None)
                                        );
                                        assert_eq!(fx, vec![Effect::Record("transfer_rejected")]);
                                    }
                                }
                                _ => assert!(got.is_err(), "{w:?} {c:?}"),
                            },
                            C::DecideExtension { approve } => match (e, p) {
                                (Extension::Requested, Pending::Extension { days }) => {
                                    let (after, fx) = got.expect("decided");
                                    assert_eq!(after.status, s);
                                    assert_eq!(after.pending, Pending::None);
                                    if approve {
                                        assert_eq!(after.extension, Extension::Approved);
                                        assert!(fx.contains(&Effect::Announce(
                                            Announce::DeadlineExtended { days }
                                        )));
                                    } else {
                                        assert_eq!(after.extension, Extension::Rejected);
                                    }
                                }
                                _ => assert!(got.is_err(), "{w:?} {c:?}"),
                            },
                            C::RequestExtension { days } => match (s, e) {
                                (S::Accepted, Extension::None) => {
                                    let (after, _) = got.expect("requested");
                                    assert_eq!(
                                        after,
                                        Workbench::new(
                                            S::Accepted,
                                            Extension::Requested,
                                            Pending::Extension { days }
                                        )
                                    );
                                }
                                (S::Accepted, e) => {
                                    assert_eq!(got, Err(DomainError::ExtendedOnce(e)))
                                }
                                _ => assert!(got.is_err(), "{w:?} {c:?}"),
                            },
                            // The rest neither read nor depend on the extension or what
                            // is pending: the same verdict as in the table.
                            c => match expected(s, c) {
                                Some(to) => {
                                    let (after, _) = got.expect("legal");
                                    assert_eq!(after.status, to);
                                    match c {
                                        C::RequestTransfer => assert_eq!(
                                            after.pending,
                                            Pending::Transfer { back_to: s }
                                        ),
                                        C::Consult => assert_eq!(after, w),
                                        _ => assert_eq!(after.pending, Pending::None),
                                    }
                                    let ext = match c {
                                        C::Unlink
                                        | C::Escalate { to_city: false }
                                        | C::Review { to_city: false } => Extension::None,
                                        _ => e,
                                    };
                                    assert_eq!(after.extension, ext, "{w:?} {c:?}");
                                }
                                None => assert!(
                                    matches!(got, Err(DomainError::Illegal { .. })),
                                    "{w:?} {c:?}"
                                ),
                            },
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn refusals_name_the_extension() {
        let w = Workbench::new(S::Replied, Extension::Approved, Pending::None);
        let e = apply(w, C::Accept).expect_err("refused");
        assert_eq!(
            e.to_string(),
            "cannot accept a case that is replied (extension approved)"
        );
        let e = apply(
            Workbench::new(S::Accepted, Extension::Rejected, Pending::None),
            C::RequestExtension { days: 3 },
        )
        .expect_err("once");
        assert_eq!(
            e.to_string(),
            "the handling period may be extended once; this case's extension is rejected"
        );
    }

    #[test]
    fn effects_of_each_legal_move() {
        use Announce as A;
        use Effect as E;
        let fx = |s, c| apply(wb(s), c).map(|(_, fx)| fx).expect("legal");
        assert_eq!(
            fx(S::Dispatched, C::Accept),
            vec![E::Record("accepted"), E::Announce(A::Accepted)]
        );
        assert_eq!(
            fx(S::Dispatched, C::NotAccept),
            vec![
                E::Record("not_accepted"),
                E::Announce(A::NotAccepted),
                E::Announce(A::Closed { not_accepted: true })
            ]
        );
        assert_eq!(
            fx(S::Accepted, C::Reply { rereview: true }),
            vec![
                E::Record("replied"),
                E::Announce(A::ReplyIssued),
                E::ConcludeRereview
            ]
        );
        assert_eq!(
            fx(S::Accepted, C::Reply { rereview: false }),
            vec![E::Record("replied"), E::Announce(A::ReplyIssued)]
        );
        assert_eq!(
            fx(S::Replied, C::Close),
            vec![
                E::Record("closed"),
                E::Announce(A::Closed {
                    not_accepted: false
                })
            ]
        );
        assert_eq!(fx(S::Linked, C::Unlink), vec![E::Redispatch]);
        assert_eq!(
            fx(S::Closed, C::Review { to_city: true }),
            vec![E::HandToCity]
        );
        assert_eq!(
            fx(S::Accepted, C::Escalate { to_city: false }),
            vec![E::Redispatch]
        );
    }

    #[test]
    fn allowed_actions_come_from_the_same_function() {
        assert_eq!(
            allowed(wb(S::Dispatched)),
            vec!["accept", "not_accept", "transfer", "escalate"]
        );
        assert_eq!(
            allowed(wb(S::Accepted)),
            vec!["transfer", "extension", "reply", "consult", "escalate"]
        );
        assert_eq!(allowed(wb(S::Replied)), vec!["close", "escalate", "review"]);
        assert_eq!(allowed(wb(S::Closed)), vec!["review"]);
        assert_eq!(allowed(wb(S::NotAccepted)), Vec::<&str>::new());
        assert_eq!(allowed(wb(S::City)), Vec::<&str>::new());
        assert_eq!(allowed(wb(S::Linked)), vec!["unlink"]);
        let waiting = Workbench::new(
            S::TransferRequested,
            Extension::None,
            Pending::Transfer {
                back_to: S::Dispatched,
            },
        );
        assert_eq!(allowed(waiting), vec!["transfer_decision", "escalate"]);
        let ext = Workbench::new(
            S::Accepted,
            Extension::Requested,
            Pending::Extension { days: 5 },
        );
        assert_eq!(
            allowed(ext),
            vec![
                "transfer",
                "extension_decision",
                "reply",
                "consult",
                "escalate"
            ]
        );
    }

    #[test]
    fn the_lead_units_actions_are_the_consoles() {
        // The console's list: accept, not accept or transfer a dispatched case; reply,
        // transfer or (once) extend an accepted one; close a replied one.
        for s in CaseState::ALL {
            for e in Extension::ALL {
                let w = Workbench::new(s, e, Pending::None);
                let want: Vec<&str> = match s {
                    S::Dispatched => vec!["accept", "not_accept", "transfer"],
                    S::Accepted if e == Extension::None => vec!["transfer", "extension", "reply"],
                    S::Accepted => vec!["transfer", "reply"],
                    S::Replied => vec!["close"],
                    _ => Vec::new(),
                };
                assert_eq!(lead_actions(w), want, "{s} {e}");
            }
        }
    }

    #[test]
    fn side_rules() {
        assert!(transfer_target("a", None, "b").is_ok());
        assert!(matches!(
            transfer_target("a", None, "a"),
            Err(DomainError::Invalid(_))
        ));
        assert!(matches!(
            transfer_target("a", Some("b"), "b"),
            Err(DomainError::Invalid(_))
        ));
        assert!(send_back(true, true, true, "x").is_ok());
        assert!(send_back(true, false, false, "x").is_ok());
        assert!(send_back(false, true, false, "x").is_ok());
        assert!(matches!(
            send_back(true, true, false, "x"),
            Err(DomainError::Forbidden(_))
        ));
        assert_eq!(delivery(false, true), Ok(true));
        assert_eq!(delivery(false, false), Ok(false));
        assert_eq!(delivery(true, false), Ok(false));
        assert!(delivery(true, true).is_err());
        assert!(!concludes(1));
        assert!(concludes(2));
    }
}
