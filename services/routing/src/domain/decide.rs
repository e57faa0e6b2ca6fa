//! The routing decision (属地管理、分级负责，谁主管、谁负责，归口办理): from a matter's
//! category, place and flags to the competent jurisdiction, a lead unit, assisting
//! units and the leader who answers for it. Pure: the same catalog, tree, matter and
//! moment always give the same decision.

use chrono::{DateTime, Utc};
use serde::Serialize;
use xf_jurisdiction::{Code, Tree};

use crate::domain::catalog::{Catalog, Rule, Unit, UnitKind, implicit_office, office_unit_id};

/// What routing knows of a matter when it decides.
#[derive(Debug, Clone)]
pub struct Matter<'a> {
    pub category: &'a str,
    /// Where the matter arose.
    pub place: &'a Code,
    /// The office that registered it (for skip-level detection).
    pub office: Option<&'a Code>,
    pub collective: bool,
    pub important: bool,
    pub superior: bool,
    /// An accusation (检举控告): only discipline inspection handles it.
    pub accusation: bool,
    /// The accused unit, which must never receive the case.
    pub excluded_unit: Option<&'a str>,
}

impl Matter<'_> {
    fn has_flag(&self, f: &str) -> bool {
        match f {
            "collective" => self.collective,
            "important" => self.important,
            "superior" => self.superior,
            "accusation" => self.accusation,
            _ => false,
        }
    }
    fn excluded(&self, unit_id: &str) -> bool {
        self.excluded_unit == Some(unit_id)
    }
}

/// The outcome, with the reasons kept for `GET /v1/cases/{id}/routing`.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub unit: Unit,
    pub assisting_unit_ids: Vec<String>,
    pub competent: Code,
    pub rule_id: String,
    pub rule_version: i32,
    pub skip_level: bool,
    pub leader_id: Option<String>,
    /// Each step of the reasoning, in order.
    pub why: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecideError {
    #[error("jurisdiction {0} is not in the tree")]
    UnknownPlace(String),
}

/// Decides where a matter goes. With `forced`, the competent jurisdiction is that code
/// (escalations and reviews go one tier up) and only units there are chosen.
pub fn decide(
    cat: &Catalog,
    tree: &Tree,
    m: &Matter<'_>,
    at: DateTime<Utc>,
    forced: Option<&Code>,
) -> Result<Decision, DecideError> {
    if !tree.contains(m.place) {
        return Err(DecideError::UnknownPlace(m.place.to_string()));
    }
    if let Some(f) = forced
        && !tree.contains(f)
    {
        return Err(DecideError::UnknownPlace(f.to_string()));
    }
    let name_of = |code: &str| {
        Code::parse(code)
            .ok()
            .and_then(|c| tree.get(&c).map(|d| d.name.clone()))
    };
    let mut why = Vec::new();
    let candidates = cat.rules_for(m.place).filter(|r| {
        r.in_force(at)
            && r.category.as_deref().is_none_or(|c| c == m.category)
            && r.jurisdiction_code
                .as_deref()
                .is_none_or(|j| m.place.as_str().starts_with(j))
            && r.flags.iter().all(|f| m.has_flag(f))
            && (!m.accusation || r.flags.iter().any(|f| f == "accusation"))
    });
    for rule in candidates {
        match resolve_rule(cat, m, rule, forced, &name_of) {
            Ok((unit, competent, step)) => {
                why.push(format!(
                    "rule {} v{} matches ({}): {step}",
                    rule.id,
                    rule.version,
                    describe(rule)
                ));
                return Ok(finish(
                    cat,
                    m,
                    rule_parts(rule),
                    unit,
                    competent,
                    forced,
                    why,
                ));
            }
            Err(skip) => why.push(format!(
                "rule {} v{} matches but is passed over: {skip}",
                rule.id, rule.version
            )),
        }
    }
    let (unit, competent, step) = default_unit(cat, m, forced, &name_of);
    why.push(step);
    Ok(finish(
        cat,
        m,
        ("default".into(), 0, Vec::new()),
        unit,
        competent,
        forced,
        why,
    ))
}

fn rule_parts(r: &Rule) -> (String, i32, Vec<String>) {
    (r.id.clone(), r.version, r.assisting_unit_ids.clone())
}

fn describe(r: &Rule) -> String {
    let mut parts = Vec::new();
    parts.push(format!(
        "category {}",
        r.category.as_deref().unwrap_or("any")
    ));
    parts.push(format!(
        "place under {}",
        r.jurisdiction_code.as_deref().unwrap_or("anywhere")
    ));
    if !r.flags.is_empty() {
        parts.push(format!("flags {}", r.flags.join("+")));
    }
    parts.join(", ")
}

fn finish(
    cat: &Catalog,
    m: &Matter<'_>,
    (rule_id, rule_version, assisting): (String, i32, Vec<String>),
    unit: Unit,
    competent: Code,
    forced: Option<&Code>,
    mut why: Vec<String>,
) -> Decision {
    let assisting_unit_ids: Vec<String> = assisting
        .into_iter()
        .filter(|id| *id != unit.id && !m.excluded(id))
        .filter(|id| cat.units.get(id).is_some_and(|u| u.active))
        .collect();
    let important = m.important || m.collective;
    let leader_id = if important {
        unit.top_leader
            .clone()
            .or_else(|| unit.leader_in_charge.clone())
    } else {
        unit.leader_in_charge.clone()
    };
    if let Some(l) = &leader_id {
        why.push(format!(
            "{} matter: leader {l} ({})",
            if important { "important" } else { "ordinary" },
            if important {
                "top leader"
            } else {
                "leader in charge"
            }
        ));
    }
    let skip_level = forced.is_none()
        && m.office
            .is_some_and(|o| o.covers(&competent) && o.as_str() != competent.as_str());
    if skip_level {
        why.push(format!(
            "filed at {} above the competent jurisdiction {competent}: skip-level (越级), dispatched down",
            m.office.map(Code::as_str).unwrap_or_default()
        ));
    }
    Decision {
        unit,
        assisting_unit_ids,
        competent,
        rule_id,
        rule_version,
        skip_level,
        leader_id,
        why,
    }
}

/// The competent jurisdiction a rule names for a place.
fn competent_for(rule: &Rule, place: &Code) -> Code {
    match rule.competent_tier.code_len() {
        Some(n) if n <= place.as_str().len() => {
            Code::parse(&place.as_str()[..n]).unwrap_or_else(|_| place.clone())
        }
        _ => place.clone(),
    }
}

type Resolved = (Unit, Code, String);

fn resolve_rule(
    cat: &Catalog,
    m: &Matter<'_>,
    rule: &Rule,
    forced: Option<&Code>,
    name_of: &dyn Fn(&str) -> Option<String>,
) -> Result<Resolved, String> {
    if let Some(id) = &rule.lead_unit_id {
        let u = cat
            .units
            .get(id)
            .filter(|u| u.active)
            .ok_or_else(|| format!("lead unit {id} is inactive"))?;
        if m.excluded(&u.id) {
            return Err(format!("lead unit {id} is the accused unit"));
        }
        let ucode = Code::parse(&u.jurisdiction_code).map_err(|e| e.to_string())?;
        if let Some(f) = forced
            && ucode != *f
        {
            return Err(format!("lead unit {id} is not at {f}"));
        }
        if !ucode.covers(m.place) && forced.is_none() {
            return Err(format!("lead unit {id} does not cover {}", m.place));
        }
        return Ok((
            u.clone(),
            ucode,
            format!("lead unit {id} named by the rule"),
        ));
    }
    let competent = forced
        .cloned()
        .unwrap_or_else(|| competent_for(rule, m.place));
    let kind = rule.lead_unit_kind.unwrap_or(UnitKind::Xfb);
    if kind == UnitKind::Discipline {
        return discipline_unit(cat, m, &competent)
            .ok_or_else(|| format!("no discipline-inspection unit at or above {competent}"));
    }
    if let Some(u) = pick(cat, m, competent.as_str(), kind) {
        let step = format!(
            "{} tier {competent}: {} {}",
            rule.competent_tier.as_str(),
            kind.as_str(),
            u.id
        );
        return Ok((u, competent, step));
    }
    let office = office_unit_id(competent.as_str());
    if m.excluded(&office) {
        return Err(format!("the office {office} is the accused unit"));
    }
    let name = name_of(competent.as_str()).unwrap_or_default();
    Ok((
        implicit_office(competent.as_str(), &name),
        competent.clone(),
        format!(
            "{} tier {competent}: no {} there, its letters-and-visits office",
            rule.competent_tier.as_str(),
            kind.as_str()
        ),
    ))
}

/// A unit of a kind at a division, preferring one that handles the category.
fn pick(cat: &Catalog, m: &Matter<'_>, code: &str, kind: UnitKind) -> Option<Unit> {
    let units: Vec<&Unit> = cat
        .units_at(code, kind)
        .filter(|u| !m.excluded(&u.id))
        .collect();
    units
        .iter()
        .find(|u| u.handles(m.category))
        .or_else(|| {
            // Only the office takes any category; other kinds must list it.
            (kind == UnitKind::Xfb).then(|| units.first()).flatten()
        })
        .map(|u| (*u).clone())
}

/// The nearest discipline-inspection unit at or above `from` that is not the accused.
fn discipline_unit(cat: &Catalog, m: &Matter<'_>, from: &Code) -> Option<Resolved> {
    for code in from.chain() {
        if let Some(u) = cat
            .units_at(code.as_str(), UnitKind::Discipline)
            .find(|u| !m.excluded(&u.id))
        {
            let step = format!("accusation: discipline-inspection unit {} at {code}", u.id);
            return Some((u.clone(), code, step));
        }
    }
    None
}

/// No rule matched: the unit in charge of the category where the matter arose, else
/// that division's letters-and-visits office; accusations go to discipline inspection.
fn default_unit(
    cat: &Catalog,
    m: &Matter<'_>,
    forced: Option<&Code>,
    name_of: &dyn Fn(&str) -> Option<String>,
) -> Resolved {
    let start = forced.unwrap_or(m.place).clone();
    if m.accusation {
        if let Some(r) = discipline_unit(cat, m, &start) {
            return (r.0, r.1, format!("no rule: {}", r.2));
        }
    } else {
        for kind in [
            UnitKind::Department,
            UnitKind::TownshipOffice,
            UnitKind::VillageCommittee,
        ] {
            if let Some(u) = cat
                .units_at(start.as_str(), kind)
                .find(|u| u.handles(m.category) && !m.excluded(&u.id))
            {
                let step = format!(
                    "no rule: {} at {start} handles category {} (归口办理)",
                    u.id, m.category
                );
                return (u.clone(), start, step);
            }
        }
    }
    // The letters-and-visits office where the matter arose, or the first one up the
    // chain that is not the accused.
    for code in start.chain() {
        let office = office_unit_id(code.as_str());
        if m.excluded(&office) {
            continue;
        }
        let unit = cat
            .units
            .get(&office)
            .filter(|u| u.active)
            .cloned()
            .unwrap_or_else(|| {
                implicit_office(code.as_str(), &name_of(code.as_str()).unwrap_or_default())
            });
        let step = if m.accusation {
            format!("no rule and no discipline-inspection unit: the office {office} forwards it")
        } else {
            format!("no rule: the letters-and-visits office where the matter arose ({code})")
        };
        return (unit, code, step);
    }
    let county = start.county();
    (
        implicit_office(
            county.as_str(),
            &name_of(county.as_str()).unwrap_or_default(),
        ),
        county,
        "no rule: the county office".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::CompetentTier;

    fn unit(id: &str, kind: UnitKind, code: &str, cats: &[&str]) -> Unit {
        Unit {
            id: id.into(),
            version: 1,
            name: id.into(),
            kind,
            jurisdiction_code: code.into(),
            categories: cats.iter().map(|s| s.to_string()).collect(),
            leader_in_charge: Some(format!("{id}:分管")),
            top_leader: Some(format!("{id}:主要")),
            active: true,
            implicit: false,
        }
    }

    fn rule(id: &str, f: impl FnOnce(&mut Rule)) -> Rule {
        let mut r = Rule {
            id: id.into(),
            version: 1,
            category: None,
            jurisdiction_code: None,
            flags: Vec::new(),
            competent_tier: CompetentTier::Place,
            lead_unit_id: None,
            lead_unit_kind: None,
            assisting_unit_ids: Vec::new(),
            note: String::new(),
            effective_from: DateTime::<Utc>::MIN_UTC,
            effective_to: None,
        };
        f(&mut r);
        r
    }

    fn code(s: &str) -> Code {
        Code::parse(s).expect("valid code")
    }

    fn matter<'a>(place: &'a Code, category: &'a str) -> Matter<'a> {
        Matter {
            category,
            place,
            office: None,
            collective: false,
            important: false,
            superior: false,
            accusation: false,
            excluded_unit: None,
        }
    }

    fn catalog(rules: Vec<Rule>) -> Catalog {
        Catalog::new(
            1,
            vec![
                unit("zjj", UnitKind::Department, "330122", &["housing"]),
                unit("rsj", UnitKind::Department, "330122", &["wages"]),
                unit("jw", UnitKind::Discipline, "330122", &[]),
                unit("town2", UnitKind::TownshipOffice, "330122002", &["land"]),
                unit("town2-jw", UnitKind::Discipline, "330122002", &[]),
            ],
            rules,
        )
    }

    #[test]
    fn most_specific_rule_wins_and_explains_itself() {
        let tree = Tree::fixture().expect("fixture");
        let cat = catalog(vec![
            rule("land-county", |r| {
                r.category = Some("land".into());
                r.competent_tier = CompetentTier::County;
            }),
            rule("land-town", |r| {
                r.category = Some("land".into());
                r.jurisdiction_code = Some("330122".into());
                r.competent_tier = CompetentTier::Township;
                r.lead_unit_kind = Some(UnitKind::TownshipOffice);
                r.assisting_unit_ids = vec!["zjj".into()];
            }),
        ]);
        let place = code("330122002200");
        let d = decide(&cat, &tree, &matter(&place, "land"), Utc::now(), None).expect("decides");
        assert_eq!(d.rule_id, "land-town");
        assert_eq!(d.unit.id, "town2");
        assert_eq!(d.competent.as_str(), "330122002");
        assert_eq!(d.assisting_unit_ids, ["zjj"]);
        assert_eq!(d.leader_id.as_deref(), Some("town2:分管"));
        assert!(d.why[0].contains("land-town"), "{:?}", d.why);
    }

    #[test]
    fn without_rules_the_category_owner_or_the_office_of_the_place() {
        let tree = Tree::fixture().expect("fixture");
        let cat = catalog(Vec::new());
        let county = code("330122");
        let d = decide(&cat, &tree, &matter(&county, "wages"), Utc::now(), None).expect("decides");
        assert_eq!(d.unit.id, "rsj");
        let village = code("330122002200");
        let d = decide(&cat, &tree, &matter(&village, "wages"), Utc::now(), None).expect("decides");
        assert_eq!(d.unit.id, "330122002200-xfb");
        assert!(d.unit.implicit);
    }

    #[test]
    fn rules_apply_only_in_their_period() {
        let tree = Tree::fixture().expect("fixture");
        let switch = Utc::now();
        let cat = catalog(vec![
            rule("w", |r| {
                r.category = Some("wages".into());
                r.lead_unit_id = Some("rsj".into());
                r.effective_to = Some(switch);
            }),
            rule("w", |r| {
                r.version = 2;
                r.category = Some("wages".into());
                r.lead_unit_id = Some("zjj".into());
                r.effective_from = switch;
            }),
        ]);
        let place = code("330122002");
        let before = decide(
            &cat,
            &tree,
            &matter(&place, "wages"),
            switch - chrono::Duration::seconds(1),
            None,
        )
        .expect("decides");
        assert_eq!((before.unit.id.as_str(), before.rule_version), ("rsj", 1));
        let after = decide(&cat, &tree, &matter(&place, "wages"), switch, None).expect("decides");
        assert_eq!((after.unit.id.as_str(), after.rule_version), ("zjj", 2));
    }

    #[test]
    fn accusations_go_to_discipline_and_never_to_the_accused() {
        let tree = Tree::fixture().expect("fixture");
        let cat = catalog(vec![rule("land", |r| {
            r.category = Some("land".into());
            r.lead_unit_id = Some("town2".into());
        })]);
        let place = code("330122002200");
        let mut m = matter(&place, "land");
        m.accusation = true;
        m.excluded_unit = Some("town2-jw");
        let d = decide(&cat, &tree, &m, Utc::now(), None).expect("decides");
        // The township's own discipline unit is accused: the county's takes it.
        assert_eq!(d.unit.id, "jw");
        m.excluded_unit = Some("town2");
        let d = decide(&cat, &tree, &m, Utc::now(), None).expect("decides");
        assert_eq!(d.unit.id, "town2-jw");
    }

    #[test]
    fn skip_level_filings_are_flagged_and_important_ones_go_to_the_top_leader() {
        let tree = Tree::fixture().expect("fixture");
        let cat = catalog(vec![rule("land", |r| {
            r.category = Some("land".into());
            r.competent_tier = CompetentTier::Township;
            r.lead_unit_kind = Some(UnitKind::TownshipOffice);
        })]);
        let place = code("330122002200");
        let office = code("330122");
        let mut m = matter(&place, "land");
        m.office = Some(&office);
        m.important = true;
        let d = decide(&cat, &tree, &m, Utc::now(), None).expect("decides");
        assert!(d.skip_level);
        assert_eq!(d.leader_id.as_deref(), Some("town2:主要"));
        let town_office = code("330122002");
        m.office = Some(&town_office);
        let d = decide(&cat, &tree, &m, Utc::now(), None).expect("decides");
        assert!(!d.skip_level);
    }

    #[test]
    fn forced_jurisdiction_picks_units_there_only() {
        let tree = Tree::fixture().expect("fixture");
        let cat = catalog(vec![rule("land", |r| {
            r.category = Some("land".into());
            r.lead_unit_id = Some("town2".into());
        })]);
        let place = code("330122002200");
        let county = code("330122");
        let d = decide(
            &cat,
            &tree,
            &matter(&place, "land"),
            Utc::now(),
            Some(&county),
        )
        .expect("decides");
        assert_eq!(d.competent.as_str(), "330122");
        assert_eq!(d.unit.id, "330122-xfb");
        assert!(!d.skip_level);
    }

    #[test]
    fn unknown_places_are_refused() {
        let tree = Tree::fixture().expect("fixture");
        let cat = catalog(Vec::new());
        let place = code("110101001001");
        assert_eq!(
            decide(&cat, &tree, &matter(&place, "land"), Utc::now(), None).map(|d| d.unit.id),
            Err(DecideError::UnknownPlace("110101001001".into()))
        );
    }
}
