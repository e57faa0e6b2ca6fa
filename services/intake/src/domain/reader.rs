//! Who may read a case from the register: the shared rule of `xf-access` (the accused
//! unit never; assigned units; overseers over the place) plus intake's own reception
//! staff, who read the register of the offices their jurisdiction covers.

use xf_access::{Case, Standing};
use xf_auth::{Claims, roles};

/// Why a reader may read the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// Reception staff of the office that registered it (or above it).
    Registrar,
    /// By the shared rule: lead or assisting unit, or an overseer.
    Case(Standing),
}

impl Reader {
    /// Only the lead unit handling an accusation reads its sealed content.
    pub fn reads_sealed_content(self) -> bool {
        self == Reader::Case(Standing::Lead)
    }
}

/// What the register knows of a case for the check.
pub struct Entry<'a> {
    pub office_code: &'a str,
    pub case: Case<'a>,
}

/// The reader's standing, or None: the entry does not exist for them (404).
pub fn reader(user: &Claims, e: &Entry<'_>) -> Option<Reader> {
    if xf_access::is_excluded(user, e.case.excluded_unit) {
        return None;
    }
    if let Ok(s) = xf_access::see(user, &e.case) {
        return Some(Reader::Case(s));
    }
    let registrar = user.has_role(roles::REGISTRAR)
        && (user.covers(e.office_code) || user.covers(e.case.matter_code));
    registrar.then_some(Reader::Registrar)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VILLAGE: &str = "330122002200";

    fn entry<'a>(assisting: &'a [String]) -> Entry<'a> {
        Entry {
            office_code: "330122002",
            case: Case {
                matter_code: VILLAGE,
                jurisdiction_code: "330122",
                lead_unit: Some("330122-jw"),
                assisting_units: assisting,
                excluded_unit: Some("330122-jt"),
                confidential: true,
            },
        }
    }

    fn t(roles: &[&str], unit: Option<&str>, scope: &str) -> Claims {
        xf_auth::claims("u", roles, unit, scope, 60)
    }

    #[test]
    fn registrars_read_their_offices_register_and_nothing_else() {
        let e = entry(&[]);
        assert_eq!(
            reader(&t(&["registrar"], None, "330122002"), &e),
            Some(Reader::Registrar)
        );
        assert_eq!(
            reader(&t(&["registrar"], None, "330122"), &e),
            Some(Reader::Registrar)
        );
        assert_eq!(reader(&t(&["registrar"], None, "330122003"), &e), None);
        assert_eq!(reader(&t(&["registrar"], None, "330106"), &e), None);
        // A registrar of the accused unit: never.
        assert_eq!(
            reader(&t(&["registrar"], Some("330122-jt"), "330122"), &e),
            None
        );
    }

    #[test]
    fn units_read_what_they_are_assigned_and_only_the_lead_reads_sealed_content() {
        let a = vec!["330122-gaj".to_owned()];
        let e = entry(&a);
        let lead = reader(&t(&["handler"], Some("330122-jw"), "330122"), &e);
        assert_eq!(lead, Some(Reader::Case(Standing::Lead)));
        assert!(lead.is_some_and(Reader::reads_sealed_content));
        let assisting = reader(&t(&["handler"], Some("330122-gaj"), "330122"), &e);
        assert_eq!(assisting, Some(Reader::Case(Standing::Assisting)));
        assert!(!assisting.is_some_and(Reader::reads_sealed_content));
        assert_eq!(
            reader(&t(&["handler"], Some("330122-jt"), "330122"), &e),
            None
        );
        assert_eq!(
            reader(&t(&["handler"], Some("330122-rsj"), "330122"), &e),
            None,
            "another unit"
        );
        let sup = reader(&t(&["supervisor"], None, "330122"), &e);
        assert_eq!(sup, Some(Reader::Case(Standing::Overseer)));
        assert!(!sup.is_some_and(Reader::reads_sealed_content));
    }
}
