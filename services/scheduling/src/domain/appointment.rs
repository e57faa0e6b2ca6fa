//! Appointments (约访, R26): a case booked into a session with capacity.

use super::Refusal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Booked,
    Cancelled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Booked => "booked",
            State::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "booked" => Some(State::Booked),
            "cancelled" => Some(State::Cancelled),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// The petitioner's appointment moves to another session (rescheduled by the office,
    /// or carried along when its session is cancelled or moved).
    Move,
    Cancel,
}

/// The appointment's one transition function.
pub fn transition(state: State, cmd: Command) -> Result<State, Refusal> {
    match (state, cmd) {
        (State::Booked, Command::Move) => Ok(State::Booked),
        (State::Booked, Command::Cancel) => Ok(State::Cancelled),
        (State::Cancelled, _) => Err(Refusal::State("the appointment is cancelled".into())),
    }
}

/// Whether a session with `booked` of `capacity` places takes one more.
pub fn check_capacity(booked: i64, capacity: i64) -> Result<(), Refusal> {
    if booked >= capacity {
        Err(Refusal::Rule {
            rule: "session_full",
            detail: format!("the session is full ({booked} of {capacity} places booked)"),
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_are_exhaustive() {
        assert_eq!(transition(State::Booked, Command::Move), Ok(State::Booked));
        assert_eq!(
            transition(State::Booked, Command::Cancel),
            Ok(State::Cancelled)
        );
        assert!(transition(State::Cancelled, Command::Move).is_err());
        assert!(transition(State::Cancelled, Command::Cancel).is_err());
        for s in [State::Booked, State::Cancelled] {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn capacity() {
        assert!(check_capacity(0, 1).is_ok());
        assert!(check_capacity(9, 10).is_ok());
        assert!(matches!(
            check_capacity(10, 10),
            Err(Refusal::Rule {
                rule: "session_full",
                ..
            })
        ));
    }
}
