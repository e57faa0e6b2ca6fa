//! Who may see a case — one rule for every service that shows or sends one.
//!
//! A service describes the case it holds as a [`Case`] (where the matter arose, where it
//! is handled now, the lead and assisting units, the excluded unit, the confidential
//! flag) and asks [`see`] what standing the caller has:
//!
//! 1. **The excluded (accused) unit never sees the case** (R13): whatever its roles and
//!    jurisdiction, a token whose `unit` is the case's excluded unit gets
//!    [`Denied::Hidden`] — the case does not exist for it.
//! 2. **Assigned units**: staff of the lead unit ([`Standing::Lead`]) or of an
//!    assisting unit ([`Standing::Assisting`]) see it, when they hold one of
//!    [`UNIT_ROLES`].
//! 3. **Overseers** — [`OVERSEERS`]: supervisors, leaders, administrators, analysts —
//!    see it when their jurisdiction covers where the matter arose or where the case is
//!    handled now ([`Standing::Overseer`]).
//! 4. **Everyone else gets [`Denied::Hidden`]**, answered as 404: a clerk who guesses an
//!    id learns nothing, not even that the case exists.
//!
//! Checks of *what* a caller may do with a case it can see (only the lead unit replies,
//! only a supervisor urges) stay with the service and answer 403: the caller already
//! knows the case.
//!
//! Lists apply the same rule in SQL: [`excluded_filter`] gives the clause that keeps a
//! unit's token away from the cases it is excluded from.
//!
//! ```
//! use xf_access::{Case, Standing, see};
//! let clerk = xf_auth::claims("c1", &["handler"], Some("330122-rsj"), "330122", 60);
//! let case = Case {
//!     lead_unit: Some("330122-rsj"),
//!     ..Case::at("330122002200")
//! };
//! assert_eq!(see(&clerk, &case), Ok(Standing::Lead));
//! let accused = Case { excluded_unit: Some("330122-rsj"), ..case };
//! assert!(see(&clerk, &accused).is_err());
//! ```

use xf_auth::{Claims, roles};
use xf_http::Problem;

/// Roles that see every case within their jurisdiction.
pub const OVERSEERS: [&str; 4] = [
    roles::SUPERVISOR,
    roles::LEADER,
    roles::ADMIN,
    roles::ANALYST,
];

/// Roles through which a unit's staff see the cases assigned to their unit.
pub const UNIT_ROLES: [&str; 1] = [roles::HANDLER];

/// What a service knows of a case, as far as visibility goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case<'a> {
    /// Where the matter arose (6, 9 or 12 digits).
    pub matter_code: &'a str,
    /// Where the case is handled now ("" when the service does not know).
    pub jurisdiction_code: &'a str,
    /// The lead (undertaking) unit.
    pub lead_unit: Option<&'a str>,
    /// Assisting units.
    pub assisting_units: &'a [String],
    /// The accused unit: never sees the case.
    pub excluded_unit: Option<&'a str>,
    /// An accusation (检举控告).
    pub confidential: bool,
}

impl<'a> Case<'a> {
    /// A case known only by where it arose; fill in the rest with struct update syntax.
    pub fn at(matter_code: &'a str) -> Case<'a> {
        Case {
            matter_code,
            jurisdiction_code: "",
            lead_unit: None,
            assisting_units: &[],
            excluded_unit: None,
            confidential: false,
        }
    }
}

/// Why a caller sees a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Staff of the lead unit.
    Lead,
    /// Staff of an assisting unit.
    Assisting,
    /// An overseer whose jurisdiction covers the case.
    Overseer,
}

/// Why a caller does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The case does not exist for this caller (404).
    Hidden,
}

impl From<Denied> for Problem {
    fn from(_: Denied) -> Problem {
        Problem::not_found("case")
    }
}

/// True when the caller's token is the excluded unit's.
pub fn is_excluded(user: &Claims, excluded_unit: Option<&str>) -> bool {
    matches!((user.unit.as_deref(), excluded_unit), (Some(u), Some(x)) if !u.is_empty() && u == x)
}

/// True when the caller holds one of [`OVERSEERS`].
pub fn is_overseer(user: &Claims) -> bool {
    OVERSEERS.iter().any(|r| user.has_role(r))
}

/// True when the caller's jurisdiction covers where the case arose or is handled.
pub fn in_scope(user: &Claims, c: &Case<'_>) -> bool {
    user.covers(c.matter_code)
        || (!c.jurisdiction_code.is_empty() && user.covers(c.jurisdiction_code))
}

/// The caller's standing towards the case, by the rule above.
pub fn see(user: &Claims, c: &Case<'_>) -> Result<Standing, Denied> {
    if is_excluded(user, c.excluded_unit) {
        return Err(Denied::Hidden);
    }
    let unit = user.unit.as_deref().filter(|u| !u.is_empty());
    let staff = UNIT_ROLES.iter().any(|r| user.has_role(r));
    if let Some(u) = unit
        && staff
    {
        if c.lead_unit == Some(u) {
            return Ok(Standing::Lead);
        }
        if c.assisting_units.iter().any(|a| a == u) {
            return Ok(Standing::Assisting);
        }
    }
    if is_overseer(user) && in_scope(user, c) {
        return Ok(Standing::Overseer);
    }
    Err(Denied::Hidden)
}

/// [`see`] as a problem: 404 `case` when the caller may not see it.
pub fn require(user: &Claims, c: &Case<'_>) -> Result<Standing, Problem> {
    see(user, c).map_err(Problem::from)
}

/// The SQL condition that hides the cases a unit's token is excluded from, for a list
/// query: `None` when the token carries no unit (nothing to exclude). `column` is the
/// excluded-unit column, `param` the placeholder the caller binds to the token's unit.
///
/// ```
/// let c = xf_auth::claims("c1", &["supervisor"], Some("330122-jt"), "330122", 60);
/// assert_eq!(
///     xf_access::excluded_filter(&c, "excluded_unit_id", "$2").as_deref(),
///     Some("excluded_unit_id IS DISTINCT FROM $2")
/// );
/// ```
pub fn excluded_filter(user: &Claims, column: &str, param: &str) -> Option<String> {
    user.unit
        .as_deref()
        .filter(|u| !u.is_empty())
        .map(|_| format!("{column} IS DISTINCT FROM {param}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(roles: &[&str], unit: Option<&str>, scope: &str) -> Claims {
        xf_auth::claims("u", roles, unit, scope, 60)
    }

    const VILLAGE: &str = "330122002200";
    const TOWN: &str = "330122002";

    fn case<'a>(assisting: &'a [String]) -> Case<'a> {
        Case {
            matter_code: VILLAGE,
            jurisdiction_code: TOWN,
            lead_unit: Some("town-office"),
            assisting_units: assisting,
            excluded_unit: Some("town-police"),
            confidential: true,
        }
    }

    #[test]
    fn the_excluded_unit_never_sees_the_case_whatever_its_roles() {
        let a = vec!["town-police".to_owned()];
        let c = case(&a);
        for roles in [
            &["handler"][..],
            &["supervisor", "leader", "admin", "analyst", "handler"][..],
        ] {
            for scope in ["330122", TOWN, VILLAGE] {
                assert_eq!(
                    see(&token(roles, Some("town-police"), scope), &c),
                    Err(Denied::Hidden),
                    "{roles:?} {scope}"
                );
            }
        }
        // Even when routing once named it lead or assisting.
        let lead = Case {
            lead_unit: Some("town-police"),
            ..c
        };
        assert_eq!(
            see(&token(&["handler"], Some("town-police"), TOWN), &lead),
            Err(Denied::Hidden)
        );
    }

    #[test]
    fn assigned_units_see_their_cases_with_a_unit_role() {
        let a = vec!["town-lands".to_owned()];
        let c = case(&a);
        assert_eq!(
            see(&token(&["handler"], Some("town-office"), TOWN), &c),
            Ok(Standing::Lead)
        );
        assert_eq!(
            see(&token(&["handler"], Some("town-lands"), TOWN), &c),
            Ok(Standing::Assisting)
        );
        // A unit's token elsewhere still sees its assigned case (units cross tiers).
        assert_eq!(
            see(&token(&["handler"], Some("town-office"), "330106"), &c),
            Ok(Standing::Lead)
        );
        // Without a unit role the unit claim is not enough.
        assert_eq!(
            see(&token(&["registrar"], Some("town-office"), TOWN), &c),
            Err(Denied::Hidden)
        );
        // Another unit of the same township: hidden, not refused.
        assert_eq!(
            see(&token(&["handler"], Some("town-water"), TOWN), &c),
            Err(Denied::Hidden)
        );
    }

    #[test]
    fn overseers_see_what_their_jurisdiction_covers_and_nothing_else() {
        let c = case(&[]);
        for role in OVERSEERS {
            for scope in ["330122", TOWN, VILLAGE] {
                assert_eq!(
                    see(&token(&[role], None, scope), &c),
                    Ok(Standing::Overseer),
                    "{role} {scope}"
                );
            }
            // Another township, another county: hidden.
            for scope in ["330122003", "330106"] {
                assert_eq!(
                    see(&token(&[role], None, scope), &c),
                    Err(Denied::Hidden),
                    "{role} {scope}"
                );
            }
        }
        // The case was escalated to the county: a county overseer sees it through
        // where it is handled, a village one through where it arose.
        let up = Case {
            jurisdiction_code: "330122",
            ..c
        };
        assert!(see(&token(&["supervisor"], None, VILLAGE), &up).is_ok());
        // Registrars, schedulers, vault readers are not overseers.
        for role in ["registrar", "scheduler", "vault_reader", "handler"] {
            assert_eq!(
                see(&token(&[role], None, "330122"), &c),
                Err(Denied::Hidden),
                "{role}"
            );
        }
    }

    #[test]
    fn denials_answer_404_and_filters_name_the_column() {
        let p = require(&token(&["handler"], Some("x"), TOWN), &case(&[])).expect_err("hidden");
        assert_eq!(p.status, 404);
        assert_eq!(
            excluded_filter(
                &token(&["supervisor"], None, TOWN),
                "excluded_unit_id",
                "$1"
            ),
            None
        );
        assert!(is_excluded(
            &token(&["handler"], Some("town-police"), TOWN),
            Some("town-police")
        ));
        assert!(!is_excluded(&token(&["handler"], Some(""), TOWN), Some("")));
    }
}
