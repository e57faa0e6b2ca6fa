//! What makes a responsibility rule acceptable: a well-formed draft, a later start than
//! the version it follows, and no other rule that a case could match with equal
//! specificity in an overlapping period.

use chrono::{DateTime, Utc};
use xf_jurisdiction::{Code, Tree};

use super::DomainError;
use super::catalog::{Catalog, CompetentTier, FLAGS, Rule, UnitKind};

/// A rule as an administrator sends it.
#[derive(Debug, Clone)]
pub struct Draft {
    pub id: String,
    pub category: Option<String>,
    pub jurisdiction_code: Option<String>,
    pub flags: Vec<String>,
    pub competent_tier: String,
    pub lead_unit_id: Option<String>,
    pub lead_unit_kind: Option<String>,
    pub assisting_unit_ids: Vec<String>,
    pub note: String,
    pub effective_from: Option<DateTime<Utc>>,
    pub effective_to: Option<DateTime<Utc>>,
}

/// A unit or rule id: 1 to 64 letters, digits, `-`, `_`, `.` or `:`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A required free text: not blank, at most `max` characters.
pub fn require_text(errs: &mut Vec<(String, String)>, field: &str, v: &str, max: usize) {
    if v.trim().is_empty() {
        errs.push((field.to_owned(), "must not be empty".to_owned()));
    } else {
        limit_text(errs, field, v, max);
    }
}

/// An optional free text: at most `max` characters.
pub fn limit_text(errs: &mut Vec<(String, String)>, field: &str, v: &str, max: usize) {
    if v.chars().count() > max {
        errs.push((field.to_owned(), format!("at most {max} characters")));
    }
}

/// Checks a draft against the catalog and the tree: the rule it describes (version 0,
/// flags sorted and deduplicated, starting `now` unless it says otherwise), or every
/// failing field.
pub fn check(
    d: &Draft,
    cat: &Catalog,
    tree: &Tree,
    now: DateTime<Utc>,
) -> Result<Rule, DomainError> {
    let mut errs: Vec<(String, String)> = Vec::new();
    let mut err = |f: &str, m: String| errs.push((f.to_owned(), m));
    if !valid_id(&d.id) {
        err("id", "1 to 64 letters, digits, '-', '_', '.' or ':'".into());
    }
    let mut errs2 = Vec::new();
    if let Some(c) = &d.category {
        require_text(&mut errs2, "category", c, 40);
    }
    for (f, m) in errs2 {
        err(&f, m);
    }
    let scope = d.jurisdiction_code.clone().unwrap_or_default();
    if let Some(j) = &d.jurisdiction_code {
        match Code::parse(j) {
            Err(e) => err("jurisdiction_code", e.to_string()),
            Ok(c) if !tree.contains(&c) => err(
                "jurisdiction_code",
                format!("{c} is not in the jurisdiction tree"),
            ),
            Ok(_) => {}
        }
    }
    for (i, f) in d.flags.iter().enumerate() {
        if !FLAGS.contains(&f.as_str()) {
            err(
                &format!("flags[{i}]"),
                format!("one of {}", FLAGS.join(", ")),
            );
        }
    }
    let mut flags = d.flags.clone();
    flags.sort();
    flags.dedup();
    let tier = CompetentTier::parse(&d.competent_tier);
    if tier.is_none() {
        err(
            "competent_tier",
            "one of place, village, township, county".into(),
        );
    }
    let kind = match &d.lead_unit_kind {
        None => None,
        Some(k) => match UnitKind::parse(k) {
            Some(k) => Some(k),
            None => {
                err(
                    "lead_unit_kind",
                    "one of department, township_office, village_committee, discipline, xfb".into(),
                );
                None
            }
        },
    };
    if d.lead_unit_id.is_some() && d.lead_unit_kind.is_some() {
        err(
            "lead_unit_kind",
            "give lead_unit_id or lead_unit_kind, not both".into(),
        );
    }
    if let Some(lead) = &d.lead_unit_id {
        match cat.units.get(lead) {
            None => err("lead_unit_id", format!("unknown unit {lead}")),
            Some(u) => {
                if !u.active {
                    err("lead_unit_id", format!("unit {lead} is inactive"));
                }
                if let (Some(t), Some(n)) = (tier, tier.and_then(CompetentTier::code_len))
                    && u.jurisdiction_code.len() != n
                {
                    err(
                        "lead_unit_id",
                        format!("unit {lead} is not at the {} tier", t.as_str()),
                    );
                }
                let serves = scope.is_empty()
                    || scope.starts_with(&u.jurisdiction_code)
                    || u.jurisdiction_code.starts_with(&scope);
                if !serves {
                    err(
                        "lead_unit_id",
                        format!("unit {lead} does not serve {scope}"),
                    );
                }
            }
        }
    }
    for (i, a) in d.assisting_unit_ids.iter().enumerate() {
        if !cat.units.contains_key(a) {
            err(
                &format!("assisting_unit_ids[{i}]"),
                format!("unknown unit {a}"),
            );
        }
    }
    let from = d.effective_from.unwrap_or(now);
    if let Some(to) = d.effective_to
        && to <= from
    {
        err("effective_to", "must be after effective_from".into());
    }
    limit_text(&mut errs, "note", &d.note, 500);
    if !errs.is_empty() {
        return Err(DomainError::Invalid(errs));
    }
    Ok(Rule {
        id: d.id.clone(),
        version: 0,
        category: d.category.clone(),
        jurisdiction_code: d.jurisdiction_code.clone(),
        flags,
        competent_tier: tier.unwrap_or(CompetentTier::Place),
        lead_unit_id: d.lead_unit_id.clone(),
        lead_unit_kind: kind,
        assisting_unit_ids: d.assisting_unit_ids.clone(),
        note: d.note.clone(),
        effective_from: from,
        effective_to: d.effective_to,
    })
}

/// The checked rule as the version after `latest`, which it must start after.
pub fn follows(mut rule: Rule, latest: Option<&Rule>) -> Result<Rule, DomainError> {
    if let Some(l) = latest {
        if rule.effective_from <= l.effective_from {
            return Err(DomainError::invalid(
                "effective_from",
                format!(
                    "must be after the start of version {} ({})",
                    l.version, l.effective_from
                ),
            ));
        }
        rule.version = l.version + 1;
    } else {
        rule.version = 1;
    }
    Ok(rule)
}

/// No other rule may match a case with the same specificity in an overlapping period.
pub fn unambiguous(rule: &Rule, others: &[Rule]) -> Result<(), DomainError> {
    match others.iter().find(|o| rule.ambiguous_with(o)) {
        Some(o) => Err(DomainError::Ambiguous {
            rule: o.id.clone(),
            version: o.version,
        }),
        None => Ok(()),
    }
}

/// Whether the version before ends where the new one starts (it has not ended yet).
pub fn ends_previous(latest: &Rule, from: DateTime<Utc>) -> bool {
    latest.effective_to.is_none_or(|to| to > from)
}

/// A rule's version can be retired at `at` when it has not ended and `at` is after
/// its start.
pub fn retire(
    id: &str,
    version: i32,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> Result<(), DomainError> {
    if to.is_some_and(|t| t <= at) {
        return Err(DomainError::Ended(format!(
            "rule {id} version {version} already ended"
        )));
    }
    if at <= from {
        return Err(DomainError::invalid(
            "at",
            format!("must be after the start of version {version} ({from})"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, d, 0, 0, 0)
            .single()
            .expect("date")
    }

    fn draft(id: &str) -> Draft {
        Draft {
            id: id.into(),
            category: Some("land".into()),
            jurisdiction_code: None,
            flags: vec!["important".into(), "collective".into(), "important".into()],
            competent_tier: "township".into(),
            lead_unit_id: None,
            lead_unit_kind: Some("township_office".into()),
            assisting_unit_ids: Vec::new(),
            note: String::new(),
            effective_from: Some(at(2)),
            effective_to: None,
        }
    }

    fn empty() -> (Catalog, Tree) {
        (Catalog::new(1, Vec::new(), Vec::new()), Tree::default())
    }

    #[test]
    fn a_good_draft_is_a_rule_with_sorted_flags() {
        let (cat, tree) = empty();
        let r = check(&draft("r1"), &cat, &tree, at(1)).expect("valid");
        assert_eq!(r.flags, vec!["collective", "important"]);
        assert_eq!(r.competent_tier, CompetentTier::Township);
        assert_eq!(r.lead_unit_kind, Some(UnitKind::TownshipOffice));
        let r = follows(r, None).expect("first");
        assert_eq!(r.version, 1);
        let next = follows(r.clone(), Some(&r));
        assert!(matches!(next, Err(DomainError::Invalid(ref v)) if v[0].0 == "effective_from"));
    }

    #[test]
    fn every_failing_field_is_named() {
        let (cat, tree) = empty();
        let mut d = draft("bad id!");
        d.category = Some(" ".into());
        d.jurisdiction_code = Some("12".into());
        d.flags = vec!["loud".into()];
        d.competent_tier = "city".into();
        d.lead_unit_id = Some("nowhere".into());
        d.lead_unit_kind = Some("ministry".into());
        d.assisting_unit_ids = vec!["x".into()];
        d.effective_to = Some(at(1));
        d.note = "n".repeat(501);
        let Err(DomainError::Invalid(v)) = check(&d, &cat, &tree, at(1)) else {
            panic!("invalid");
        };
        let fields: Vec<&str> = v.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "id",
                "category",
                "jurisdiction_code",
                "flags[0]",
                "competent_tier",
                "lead_unit_kind",
                "lead_unit_kind",
                "lead_unit_id",
                "assisting_unit_ids[0]",
                "effective_to",
                "note"
            ]
        );
    }

    #[test]
    fn retiring_needs_a_running_version() {
        assert!(retire("r", 1, at(1), None, at(2)).is_ok());
        assert!(matches!(
            retire("r", 1, at(1), Some(at(2)), at(3)),
            Err(DomainError::Ended(_))
        ));
        assert!(matches!(
            retire("r", 1, at(2), None, at(1)),
            Err(DomainError::Invalid(_))
        ));
        let r = Rule {
            id: "r".into(),
            version: 1,
            category: None,
            jurisdiction_code: None,
            flags: Vec::new(),
            competent_tier: CompetentTier::Place,
            lead_unit_id: None,
            lead_unit_kind: None,
            assisting_unit_ids: Vec::new(),
            note: String::new(),
            effective_from: at(1),
            effective_to: Some(at(5)),
        };
        assert!(ends_previous(&r, at(3)));
        assert!(!ends_previous(&r, at(5)));
        assert!(unambiguous(&r, &[]).is_ok());
    }
}
