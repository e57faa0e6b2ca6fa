//! The demo county's reception rule sets (`fixtures/scheduling/330122.json`): the
//! county-level offices as given, the village and township templates applied to every
//! village and township of the division tree.

use serde::Deserialize;
use xf_jurisdiction::{Tier, Tree};

use crate::domain::plan::{Person, RuleVersion};
use crate::domain::rules::{OfficeRefs, RuleInput};
use crate::routes::OfficeBody;

/// The fixture file, compiled in.
pub const FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/scheduling/330122.json"
));

#[derive(Debug, Clone, Deserialize)]
struct Office {
    id: String,
    #[serde(flatten)]
    body: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    rules: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
struct File {
    county: String,
    effective_from: chrono::NaiveDate,
    offices: Vec<Office>,
    templates: Templates,
}

#[derive(Debug, Clone, Deserialize)]
struct Templates {
    township: Office,
    village: Office,
}

/// One office of the fixture, ready for `PUT /v1/offices/{id}` and its rules.
#[derive(Debug, Clone)]
pub struct FixtureOffice {
    pub id: String,
    pub body: OfficeBody,
    pub rules: Vec<(String, RuleInput)>,
}

/// A village committee's name without its suffix: 旧县村村委会 → 旧县村.
fn short(name: &str) -> &str {
    ["村民委员会", "居民委员会", "村委会", "居委会"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name)
}

fn fill(v: &serde_json::Value, code: &str, name: &str) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) => serde_json::Value::String(
            s.replace("{code}", code)
                .replace("{full}", name)
                .replace("{name}", short(name)),
        ),
        serde_json::Value::Array(a) => a.iter().map(|x| fill(x, code, name)).collect(),
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, x)| (k.clone(), fill(x, code, name)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => other.clone(),
    }
}

fn office(
    o: &Office,
    code: &str,
    name: &str,
    from: chrono::NaiveDate,
) -> anyhow::Result<FixtureOffice> {
    let mut body = fill(&serde_json::Value::Object(o.body.clone()), code, name);
    if body.get("jurisdiction_code").is_none() {
        body["jurisdiction_code"] = code.into();
    }
    let body: OfficeBody = serde_json::from_value(body)?;
    let mut rules = Vec::new();
    for (id, r) in &o.rules {
        let mut r = fill(r, code, name);
        r["effective_from"] = serde_json::json!(from);
        rules.push((id.clone(), serde_json::from_value::<RuleInput>(r)?));
    }
    Ok(FixtureOffice {
        id: o.id.replace("{code}", code).replace("{name}", name),
        body,
        rules,
    })
}

/// Every office of the fixture county: the county-level ones, then one per township
/// and one per village of `tree`.
pub fn offices(tree: &Tree) -> anyhow::Result<Vec<FixtureOffice>> {
    let f: File = serde_json::from_str(FIXTURE)?;
    let mut out = Vec::new();
    for o in &f.offices {
        out.push(office(o, &f.county, "", f.effective_from)?);
    }
    for d in tree.of_tier(Tier::Township) {
        let code = d.code.to_string();
        if code.starts_with(&f.county) {
            out.push(office(
                &f.templates.township,
                &code,
                &d.name,
                f.effective_from,
            )?);
        }
    }
    for d in tree.of_tier(Tier::Village) {
        let code = d.code.to_string();
        if code.starts_with(&f.county) {
            out.push(office(
                &f.templates.village,
                &code,
                &d.name,
                f.effective_from,
            )?);
        }
    }
    Ok(out)
}

/// The people and rules of a fixture office, validated as the API validates them.
pub fn model(o: &FixtureOffice) -> anyhow::Result<(Vec<Person>, Vec<RuleVersion>)> {
    let people: Vec<Person> = o
        .body
        .people
        .iter()
        .map(|p| Person {
            id: p.id.clone(),
            name: p.name.clone(),
            post: p.post.clone(),
            leader: p.role == "leader",
        })
        .collect();
    let refs: Vec<(String, String, bool)> = people
        .iter()
        .map(|p| (p.id.clone(), p.post.clone(), p.leader))
        .collect();
    let ids: Vec<String> = o.rules.iter().map(|(id, _)| id.clone()).collect();
    let mut rules = Vec::new();
    for (id, r) in &o.rules {
        let spec = match r.validate(&OfficeRefs {
            people: &refs,
            rules: &ids,
        }) {
            Ok(s) => s,
            Err(e) => anyhow::bail!("{} {id}: {e:?}", o.id),
        };
        rules.push(RuleVersion {
            id: id.clone(),
            version: 1,
            effective_from: r.effective_from,
            effective_to: None,
            spec,
        });
    }
    Ok((people, rules))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{plan, roster};
    use xf_calendar::OfficialCalendar;

    #[test]
    fn every_office_of_the_county_plans_2026_without_violations() {
        let tree = Tree::fixture().expect("tree");
        let all = offices(&tree).expect("fixture");
        assert_eq!(all.len(), 3 + 14 + 218);
        for o in &all {
            let (people, rules) = model(o).expect("valid fixture");
            let sessions = plan::generate(&people, &rules, 2026, &OfficialCalendar);
            assert!(!sessions.is_empty(), "{}", o.id);
            let from = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
            let to = chrono::NaiveDate::from_ymd_opt(2026, 12, 31).expect("date");
            let duty = roster::generate(&o.body.duty, from, to, &OfficialCalendar);
            let held = plan::held(&sessions);
            let v = plan::check(&people, &rules, 2026, &held, &duty, &OfficialCalendar);
            assert!(v.is_empty(), "{}: {v:?}", o.id);
        }
    }
}
