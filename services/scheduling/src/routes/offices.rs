//! Offices and their rules (keepers of the calendar).

use std::collections::BTreeSet;
use xf_app::audit::{self, Reason};

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use xf_app::Clock;
use xf_auth::Authenticated;
use xf_http::{FieldError, Problem, ValidJson, require_text};

use super::{KEEPERS, db, issues, require_office};
use crate::domain::plan::Person;
use crate::domain::roster::DutySpec;
use crate::domain::rules::{OfficeRefs, RuleInput};
use crate::store;

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonBody {
    pub id: String,
    /// An official's name (published with the schedule).
    pub name: String,
    /// 书记, 主任, 镇长, 院长, 副院长, 局长, 值班领导, 工作人员 …
    pub post: String,
    /// leader | staff
    pub role: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfficeBody {
    pub name: String,
    /// The office's division (6, 9 or 12 digits).
    pub jurisdiction_code: String,
    /// county | bureau | court | township | village
    pub kind: String,
    /// The reception place by default.
    pub place: String,
    /// Days of notice a swap or substitute needs (R24; 2 in the seed).
    #[serde(default = "two")]
    pub notice_days: i32,
    /// Hours within which a settled case's follow-up visit is due (168 = a week).
    #[serde(default = "week")]
    pub follow_up_hours: i32,
    pub people: Vec<PersonBody>,
    #[serde(default)]
    pub duty: DutySpec,
}

fn two() -> i32 {
    2
}
fn week() -> i32 {
    168
}

const KINDS: [&str; 5] = ["county", "bureau", "court", "township", "village"];

fn valid_id(s: &str) -> bool {
    (1..=80).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// An office as the audit trail keeps it: its fields, people and duty rotation.
fn office_doc<'a>(
    o: &store::offices::OfficeRow,
    people: impl Iterator<Item = (&'a str, &'a str, &'a str, bool)>,
) -> serde_json::Value {
    serde_json::json!({
        "id": o.id, "name": o.name, "jurisdiction_code": o.jurisdiction_code, "kind": o.kind,
        "place": o.place, "notice_days": o.notice_days, "follow_up_hours": o.follow_up_hours,
        "duty": o.duty.0,
        "people": people
            .map(|(id, name, post, leader)| serde_json::json!({"id": id, "name": name, "post": post, "leader": leader}))
            .collect::<Vec<_>>(),
    })
}

/// Creates or replaces an office with its people and duty rotation.
#[utoipa::path(put, path = "/v1/offices/{office}", request_body = OfficeBody, params(("office" = String, Path), ("reason" = Option<String>, Query, description = "Why (kept in the admin audit trail), at most 500 characters")),
    responses((status = 201, description = "Created"), (status = 200, description = "Replaced"), (status = 401), (status = 403), (status = 422)),
    security(("bearer" = [])))]
pub async fn put_office(
    user: Authenticated,
    path: web::Path<String>,
    reason: Reason,
    body: ValidJson<OfficeBody>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let b = body.into_inner();
    user.0.require_any_role(KEEPERS)?;
    let mut e = Vec::new();
    if !valid_id(&id) {
        e.push(FieldError::new(
            "office",
            "1 to 80 characters of a-z, 0-9, - _ .",
        ));
    }
    require_text(&mut e, "name", &b.name, 100);
    require_text(&mut e, "place", &b.place, 100);
    if xf_jurisdiction::Code::parse(&b.jurisdiction_code).is_err() {
        e.push(FieldError::new(
            "jurisdiction_code",
            "must be a 6, 9 or 12 digit jurisdiction code",
        ));
    }
    if !KINDS.contains(&b.kind.as_str()) {
        e.push(FieldError::new(
            "kind",
            "must be county, bureau, court, township or village",
        ));
    }
    if !(0..=30).contains(&b.notice_days) {
        e.push(FieldError::new("notice_days", "must be 0 to 30"));
    }
    if !(1..=720).contains(&b.follow_up_hours) {
        e.push(FieldError::new(
            "follow_up_hours",
            "must be 1 to 720 (30 days)",
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, p) in b.people.iter().enumerate() {
        if !valid_id(&p.id) {
            e.push(FieldError::new(
                format!("people[{i}].id"),
                "1 to 80 characters of a-z, 0-9, - _ .",
            ));
        } else if !seen.insert(p.id.as_str()) {
            e.push(FieldError::new(format!("people[{i}].id"), "listed twice"));
        }
        require_text(&mut e, &format!("people[{i}].name"), &p.name, 40);
        require_text(&mut e, &format!("people[{i}].post"), &p.post, 40);
        if !["leader", "staff"].contains(&p.role.as_str()) {
            e.push(FieldError::new(
                format!("people[{i}].role"),
                "must be leader or staff",
            ));
        }
    }
    let role_of = |id: &str| {
        b.people
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.role.as_str())
    };
    for (i, l) in b.duty.leaders.iter().enumerate() {
        match role_of(l.as_str()) {
            Some("leader") => {}
            Some(_) => e.push(FieldError::new(
                format!("duty.leaders[{i}]"),
                format!("{l} is not a leader"),
            )),
            None => e.push(FieldError::new(
                format!("duty.leaders[{i}]"),
                format!("unknown person {l}"),
            )),
        }
    }
    for (i, s) in b.duty.staff.iter().enumerate() {
        if role_of(s.as_str()).is_none() {
            e.push(FieldError::new(
                format!("duty.staff[{i}]"),
                format!("unknown person {s}"),
            ));
        }
    }
    if !(1..=10).contains(&b.duty.staff_per_day) {
        e.push(FieldError::new("duty.staff_per_day", "must be 1 to 10"));
    }
    if !e.is_empty() {
        return Err(Problem::validation(e));
    }
    if !user.0.covers(&b.jurisdiction_code) {
        return Err(Problem::forbidden(
            "the office lies outside your jurisdiction",
        ));
    }
    let mut tx = pool.begin().await.map_err(db)?;
    let mut before = None;
    if let Some(existing) = store::offices::lock(&mut tx, &id).await.map_err(db)? {
        require_office(&user.0, &existing, KEEPERS)?;
        let staff = store::offices::people(&mut *tx, &id).await.map_err(db)?;
        before = Some(office_doc(
            &existing,
            staff.iter().map(|p| {
                (
                    p.id.as_str(),
                    p.name.as_str(),
                    p.post.as_str(),
                    p.role == "leader",
                )
            }),
        ));
        // People the rules still name cannot go.
        let rows = store::offices::rule_rows(&mut *tx, &id).await.map_err(db)?;
        let mut named = BTreeSet::new();
        for r in rows.iter().filter(|r| r.effective_to.is_none()) {
            named.extend(r.spec.0.leaders.iter().cloned());
        }
        let gone: Vec<String> = named
            .into_iter()
            .filter(|l| role_of(l.as_str()) != Some("leader"))
            .collect();
        if !gone.is_empty() {
            return Err(Problem::validation(vec![FieldError::new(
                "people",
                format!("rules in force still name {} as leader(s)", gone.join(", ")),
            )]));
        }
    }
    let people: Vec<Person> = b
        .people
        .iter()
        .map(|p| Person {
            id: p.id.clone(),
            name: p.name.trim().to_owned(),
            post: p.post.trim().to_owned(),
            leader: p.role == "leader",
        })
        .collect();
    let created = store::offices::put_office(
        &mut tx,
        &store::offices::NewOffice {
            id: &id,
            name: b.name.trim(),
            jurisdiction_code: &b.jurisdiction_code,
            kind: &b.kind,
            place: b.place.trim(),
            notice_days: b.notice_days,
            follow_up_hours: b.follow_up_hours,
            duty: &b.duty,
            people: &people,
            at: clock.now(),
        },
    )
    .await
    .map_err(db)?;
    let now = store::offices::lock(&mut tx, &id).await.map_err(db)?;
    let after = now.as_ref().map(|o| {
        office_doc(
            o,
            people
                .iter()
                .map(|p| (p.id.as_str(), p.name.as_str(), p.post.as_str(), p.leader)),
        )
    });
    let change = audit::Change {
        kind: "office",
        key: &id,
        jurisdiction_code: &b.jurisdiction_code,
        action: audit::Action::upsert(&before),
        before,
        after,
    };
    audit::record(&mut tx, &user.0, &reason, clock.now(), &change)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    let body = serde_json::json!({"id": id, "name": b.name.trim(), "people": people.len()});
    Ok(if created {
        HttpResponse::Created().json(body)
    } else {
        HttpResponse::Ok().json(body)
    })
}

/// Saves a rule: a new version from its `effective_from` (the version before ends there).
#[utoipa::path(put, path = "/v1/offices/{office}/reception-rules/{rule}", request_body = RuleInput,
    params(("office" = String, Path), ("rule" = String, Path), ("reason" = Option<String>, Query, description = "Why (kept in the admin audit trail), at most 500 characters")),
    responses((status = 201, description = "Saved as version n"), (status = 401), (status = 403), (status = 404), (status = 422)),
    security(("bearer" = [])))]
pub async fn put_rule(
    user: Authenticated,
    path: web::Path<(String, String)>,
    reason: Reason,
    body: ValidJson<RuleInput>,
    pool: web::Data<PgPool>,
    clock: web::Data<Clock>,
) -> Result<HttpResponse, Problem> {
    let (office, rule) = path.into_inner();
    let input = body.into_inner();
    let mut tx = pool.begin().await.map_err(db)?;
    let o = store::offices::lock(&mut tx, &office)
        .await
        .map_err(db)?
        .ok_or_else(|| Problem::not_found("office"))?;
    require_office(&user.0, &o, KEEPERS)?;
    if !valid_id(&rule) {
        return Err(Problem::validation(vec![FieldError::new(
            "rule",
            "1 to 80 characters of a-z, 0-9, - _ .",
        )]));
    }
    let people: Vec<(String, String, bool)> = store::offices::people(&mut *tx, &office)
        .await
        .map_err(db)?
        .into_iter()
        .map(|p| (p.id, p.post, p.role == "leader"))
        .collect();
    let rows = store::offices::rule_rows(&mut *tx, &office)
        .await
        .map_err(db)?;
    let before = rows
        .iter()
        .filter(|r| r.id == rule)
        .max_by_key(|r| r.version)
        .map(|r| {
            serde_json::json!({"office": office, "id": r.id, "version": r.version,
            "effective_from": r.effective_from, "effective_to": r.effective_to, "rule": r.spec.0})
        });
    let mut ids: Vec<String> = rows
        .into_iter()
        .map(|r| r.id)
        .filter(|r| *r != rule)
        .collect();
    ids.dedup();
    let spec = input
        .validate(&OfficeRefs {
            people: &people,
            rules: &ids,
        })
        .map_err(issues)?;
    let stored = spec.to_input(input.effective_from);
    let version = store::offices::put_rule(
        &mut tx,
        &office,
        &rule,
        &stored,
        spec.kind.name(),
        spec.holiday_policy.as_str(),
        clock.now(),
    )
    .await
    .map_err(db)?;
    let saved = serde_json::json!({
        "office": office, "id": rule, "version": version, "kind": spec.kind.name(),
        "parameters": spec.kind.parameters(), "holiday_policy": spec.holiday_policy.as_str(),
        "effective_from": input.effective_from, "rrule": spec.kind.rrule(),
    });
    let key = format!("{office}/{rule}");
    let change = audit::Change {
        kind: "reception_rule",
        key: &key,
        jurisdiction_code: &o.jurisdiction_code,
        action: audit::Action::upsert(&before),
        before,
        after: Some(serde_json::json!({"version": version, "rule": stored})),
    };
    audit::record(&mut tx, &user.0, &reason, clock.now(), &change)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(HttpResponse::Created().json(saved))
}
