//! Deadline policies as data: per jurisdiction, versioned with effective dates, each
//! stage with its period, how it is counted and when to warn. A policy covers its
//! division and everything below it; for each stage the most specific policy in force
//! that defines the stage applies, so a township can override one stage and inherit
//! the rest from its county or from the statutory set.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use xf_events::v1::Stage;
use xf_http::FieldError;

use crate::deadline::Counting;

/// Stages a policy can time, with their event-contract counterparts.
pub const STAGES: [(&str, Stage); 11] = [
    ("acceptance", Stage::Acceptance),
    ("handling", Stage::Handling),
    ("review_window", Stage::ReviewWindow),
    ("review", Stage::Review),
    ("rereview_window", Stage::RereviewWindow),
    ("rereview", Stage::Rereview),
    ("follow_up", Stage::FollowUp),
    ("reply_after_done", Stage::ReplyAfterDone),
    ("progress_notice", Stage::ProgressNotice),
    ("quick_reply", Stage::QuickReply),
    // Its due moment comes with the transfer, not from a policy.
    ("superior_report", Stage::SuperiorReport),
];

pub fn stage_code(stage: &str) -> Stage {
    STAGES
        .iter()
        .find(|(n, _)| *n == stage)
        .map_or(Stage::Unspecified, |(_, s)| *s)
}

/// Stages a unit answers for: their breach escalates the case one tier up.
pub fn escalates(stage: &str) -> bool {
    matches!(
        stage,
        "acceptance" | "handling" | "review" | "rereview" | "quick_reply"
    )
}

/// Stages that time telling or answering the petitioner: none run for an anonymous
/// item (R3), to whom no reply is owed.
pub fn owed_to_petitioner(stage: &str) -> bool {
    matches!(
        stage,
        "acceptance"
            | "quick_reply"
            | "progress_notice"
            | "reply_after_done"
            | "review_window"
            | "rereview_window"
    )
}

/// Windows the petitioner has (to ask for review): they expire, nobody is overdue.
pub fn is_window(stage: &str) -> bool {
    matches!(stage, "review_window" | "rereview_window")
}

/// One stage's rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    pub days: i64,
    #[serde(default = "calendar")]
    pub counting: Counting,
    #[serde(default)]
    pub warn_days: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_extension_days: Option<i64>,
    /// The most time pauses may exclude from this stage's clock, in days (default
    /// [`DEFAULT_MAX_PAUSE_DAYS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pause_days: Option<i64>,
}

/// A stage's pause allowance when its policy names none.
pub const DEFAULT_MAX_PAUSE_DAYS: i64 = 30;

/// Why a clock may stand still: the closed list (听证, 鉴定, 等待信访人补充材料,
/// 等待其他机关意见).
pub const PAUSE_REASONS: [(&str, xf_events::v1::PauseReason); 4] = [
    ("hearing", xf_events::v1::PauseReason::Hearing),
    ("appraisal", xf_events::v1::PauseReason::Appraisal),
    (
        "awaiting_petitioner",
        xf_events::v1::PauseReason::AwaitingPetitioner,
    ),
    (
        "awaiting_authority",
        xf_events::v1::PauseReason::AwaitingAuthority,
    ),
];

fn calendar() -> Counting {
    Counting::CalendarDays
}

/// The longest period a stage may have (ten years).
pub const MAX_DAYS: i64 = 3650;

/// Checks a stage map, naming each failing field under `stages.<stage>`.
pub fn check_stages(
    stages: &BTreeMap<String, serde_json::Value>,
) -> (BTreeMap<String, StageSpec>, Vec<FieldError>) {
    let mut ok = BTreeMap::new();
    let mut errs = Vec::new();
    if stages.is_empty() {
        errs.push(FieldError::new("stages", "name at least one stage"));
    }
    for (name, raw) in stages {
        let field = format!("stages.{name}");
        if name == "superior_report" {
            errs.push(FieldError::new(
                field,
                "its due moment comes with the superior body's transfer, not from a policy",
            ));
            continue;
        }
        if !STAGES.iter().any(|(n, _)| n == name) {
            errs.push(FieldError::new(
                field,
                format!(
                    "unknown stage; one of {}",
                    STAGES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            continue;
        }
        let spec: StageSpec = match serde_json::from_value(raw.clone()) {
            Ok(s) => s,
            Err(e) => {
                errs.push(FieldError::new(field, e.to_string()));
                continue;
            }
        };
        if !(1..=MAX_DAYS).contains(&spec.days) {
            errs.push(FieldError::new(
                format!("{field}.days"),
                format!("a period is 1 to {MAX_DAYS} days"),
            ));
        }
        for (i, w) in spec.warn_days.iter().enumerate() {
            if *w < 1 || *w >= spec.days.max(1) {
                errs.push(FieldError::new(
                    format!("{field}.warn_days[{i}]"),
                    "a warning comes 1 day or more before the due day, within the period",
                ));
            }
        }
        if let Some(m) = spec.max_extension_days
            && !(1..=MAX_DAYS).contains(&m)
        {
            errs.push(FieldError::new(
                format!("{field}.max_extension_days"),
                format!("1 to {MAX_DAYS} days"),
            ));
        }
        if let Some(m) = spec.max_pause_days
            && !(0..=MAX_DAYS).contains(&m)
        {
            errs.push(FieldError::new(
                format!("{field}.max_pause_days"),
                format!("0 to {MAX_DAYS} days"),
            ));
        }
        ok.insert(name.clone(), spec);
    }
    (ok, errs)
}

/// The rule that applies to a stage, and where it came from.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub spec: StageSpec,
    pub policy_id: String,
    pub version: i32,
}

/// The most specific policy in force at `at` for `code` that defines `stage`.
pub async fn resolve(
    conn: &mut PgConnection,
    code: &str,
    at: DateTime<Utc>,
    stage: &str,
) -> Result<Option<Resolved>, sqlx::Error> {
    let row = crate::store::policies::stage_in_force(conn, code, at, stage).await?;
    Ok(row.and_then(|(policy_id, version, v)| {
        serde_json::from_value(v).ok().map(|spec| Resolved {
            spec,
            policy_id,
            version,
        })
    }))
}

/// A ready-made policy: the seed's local rules.
#[derive(Debug, Clone, Serialize)]
pub struct Preset {
    pub id: &'static str,
    pub name: &'static str,
    pub source: &'static str,
    pub stages: serde_json::Value,
}

/// The shipped presets.
pub fn presets() -> Vec<Preset> {
    vec![
        Preset {
            id: "quick-reply-3d",
            name: "来信来访三日内答复",
            source: "篇一 四：群众来信来访，一般在3日内给予答复",
            stages: serde_json::json!({
                "quick_reply": {"days": 3, "counting": "calendar_days", "warn_days": [1]}
            }),
        },
        Preset {
            id: "handling-30-max-60",
            name: "30日内办结，最长不超过60日",
            source: "篇六 第十二条：自受理之日起30日内办结；情况复杂的，可适当延长，但不得超过60日",
            stages: serde_json::json!({
                "handling": {"days": 30, "counting": "calendar_days", "warn_days": [5, 1],
                             "max_extension_days": 30}
            }),
        },
        Preset {
            id: "progress-notice-3m",
            name: "受理后3个月未办结须告知信访人",
            source: "篇三 六：受理后3个月内未办结的，应告知信访人",
            stages: serde_json::json!({
                "progress_notice": {"days": 90, "counting": "calendar_days", "warn_days": [7]}
            }),
        },
        Preset {
            id: "statutory-working-days",
            name: "法定时限（按工作日计）",
            source: "信访条例第二十二、三十三至三十五条，按工作日计算的地方做法",
            stages: serde_json::json!({
                "acceptance": {"days": 15, "counting": "working_days", "warn_days": [3, 1]},
                "handling": {"days": 60, "counting": "working_days", "warn_days": [7, 3, 1],
                             "max_extension_days": 30},
                "review": {"days": 30, "counting": "working_days", "warn_days": [3, 1]},
                "rereview": {"days": 30, "counting": "working_days", "warn_days": [3, 1]}
            }),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_pass_their_own_checks() {
        for p in presets() {
            let map: BTreeMap<String, serde_json::Value> =
                serde_json::from_value(p.stages.clone()).expect("a map");
            let (_, errs) = check_stages(&map);
            assert!(errs.is_empty(), "{}: {errs:?}", p.id);
        }
    }

    #[test]
    fn bad_stages_are_named() {
        let map: BTreeMap<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
            "handling": {"days": 0},
            "acceptance": {"days": 15, "warn_days": [20]},
            "lunch": {"days": 1},
            "review": {"days": 30, "counting": "fortnights"}
        }))
        .expect("a map");
        let (_, errs) = check_stages(&map);
        let mut fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "stages.acceptance.warn_days[0]",
                "stages.handling.days",
                "stages.lunch",
                "stages.review"
            ]
        );
    }
}
