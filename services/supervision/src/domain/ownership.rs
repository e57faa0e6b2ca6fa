//! Leader case ownership (领导包案): at most one leader owns a case at a time; another
//! leader replaces the owner, a release ends it. Ended ownerships are the history.

use super::DomainError;

/// Whether a case has an owner now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OwnershipState {
    Unowned,
    Owned,
}

impl OwnershipState {
    pub const ALL: [OwnershipState; 2] = [OwnershipState::Unowned, OwnershipState::Owned];
}

/// How an ownership ended. `ownerships.end_kind` holds exactly these, or NULL while it
/// is active (migration 1002).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndKind {
    Released,
    Replaced,
}

impl EndKind {
    pub const ALL: [EndKind; 2] = [EndKind::Released, EndKind::Replaced];

    pub fn as_str(self) -> &'static str {
        match self {
            EndKind::Released => "released",
            EndKind::Replaced => "replaced",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// A leader is assigned; `same_leader` when it is the one who owns the case now.
    Assign { same_leader: bool },
    /// The case is settled: the owner is released.
    Release,
}

impl Command {
    pub const ALL: [Command; 3] = [
        Command::Assign { same_leader: false },
        Command::Assign { same_leader: true },
        Command::Release,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// End the active ownership so.
    End(EndKind),
    /// Record the new owner.
    Own,
    /// `LeaderOwnershipAssigned`.
    EmitAssigned,
    /// `LeaderOwnershipReleased`.
    EmitReleased,
}

/// The ownership's one transition function.
pub fn apply(
    state: OwnershipState,
    cmd: Command,
) -> Result<(OwnershipState, Vec<Effect>), DomainError> {
    use Effect as E;
    use OwnershipState as S;
    match (state, cmd) {
        (S::Unowned, Command::Assign { .. }) => Ok((S::Owned, vec![E::Own, E::EmitAssigned])),
        (S::Owned, Command::Assign { same_leader: true }) => Err(DomainError::IllegalTransition(
            "this leader already owns the case".into(),
        )),
        (S::Owned, Command::Assign { same_leader: false }) => Ok((
            S::Owned,
            vec![E::End(EndKind::Replaced), E::Own, E::EmitAssigned],
        )),
        (S::Owned, Command::Release) => {
            Ok((S::Unowned, vec![E::End(EndKind::Released), E::EmitReleased]))
        }
        (S::Unowned, Command::Release) => Err(DomainError::IllegalTransition(
            "no leader owns this case".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Effect as E;
    use OwnershipState as S;

    #[test]
    fn transitions_are_exhaustive() {
        type Want = Result<(S, &'static [Effect]), ()>;
        let table: [(S, Command, Want); 6] = [
            (
                S::Unowned,
                Command::Assign { same_leader: false },
                Ok((S::Owned, &[E::Own, E::EmitAssigned])),
            ),
            (
                S::Unowned,
                Command::Assign { same_leader: true },
                Ok((S::Owned, &[E::Own, E::EmitAssigned])),
            ),
            (S::Unowned, Command::Release, Err(())),
            (
                S::Owned,
                Command::Assign { same_leader: false },
                Ok((
                    S::Owned,
                    &[E::End(EndKind::Replaced), E::Own, E::EmitAssigned],
                )),
            ),
            (S::Owned, Command::Assign { same_leader: true }, Err(())),
            (
                S::Owned,
                Command::Release,
                Ok((S::Unowned, &[E::End(EndKind::Released), E::EmitReleased])),
            ),
        ];
        for s in OwnershipState::ALL {
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
            let got = apply(s, c);
            match (got, want) {
                (Ok((to, fx)), Ok((wto, wfx))) => assert_eq!((to, fx.as_slice()), (wto, wfx)),
                (Err(DomainError::IllegalTransition(_)), Err(())) => {}
                (got, want) => panic!("{s:?} × {c:?}: got {got:?}, want {want:?}"),
            }
        }
        for k in EndKind::ALL {
            assert_eq!(EndKind::parse(k.as_str()), Some(k));
        }
    }
}
