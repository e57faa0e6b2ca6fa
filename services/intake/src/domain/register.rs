//! Registration (登记), the pure part: the fields a registration has, and the check of
//! every field against the division tree, the clock and the category's class — all
//! problems at once. Storing it is `store::register`.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use xf_events::v1::{Channel, Urgency};
use xf_http::{FieldError, Problem};
use xf_jurisdiction::{Code, Tree};

pub const TEXT_MAX: usize = 4000;
pub const MAX_REPRESENTATIVES: usize = 5;

/// A petitioner or representative. Identity fields are sealed in the vault.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Petitioner {
    pub name: Option<String>,
    /// male | female | unspecified
    pub gender: Option<String>,
    pub age: Option<i64>,
    pub occupation: Option<String>,
    /// 政治面貌, e.g. 群众, 中共党员, 共青团员, 民主党派
    pub political_status: Option<String>,
    pub address: Option<String>,
    pub work_unit: Option<String>,
    pub phone: Option<String>,
    /// Resident ID number (18 characters, checksum validated).
    pub id_number: Option<String>,
}

/// An attachment to a letter: metadata and a reference to the stored content.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    pub name: String,
    pub media_type: String,
    pub size_bytes: i64,
    /// Where the content is stored (object key or archive reference).
    pub content_ref: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LetterDetails {
    /// The day the letter arrived.
    pub received_on: Option<NaiveDate>,
    /// The date written on the letter.
    pub dated: Option<NaiveDate>,
    /// intact | damaged | opened | none
    pub envelope_condition: Option<String>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitDetails {
    /// Staff ids of the receivers: at least two.
    #[serde(default)]
    pub receiving_staff: Vec<String>,
    /// Material the visitor brought.
    #[serde(default)]
    pub materials: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Collective {
    /// How many people came or signed.
    pub headcount: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Referral {
    /// court | arbitration | administrative_review
    pub channel: String,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Superior {
    /// The superior body's reference (上级交办 number).
    pub reference: String,
    /// The deadline the superior body set.
    pub due_at: Option<DateTime<Utc>>,
}

/// A registration.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCase {
    /// letter | visit | phone | online
    pub channel: String,
    /// Where the matter arose: 6, 9 or 12 digits, inside the registrar's jurisdiction.
    pub jurisdiction_code: String,
    /// A category code from `GET /v1/categories`.
    pub category: String,
    /// The main issue.
    pub summary: String,
    /// What the petitioner asks for.
    #[serde(default)]
    pub requests: Option<String>,
    /// normal | important | urgent (轻重缓急)
    #[serde(default)]
    pub urgency: Option<String>,
    /// When the item was received; defaults to now; never in the future.
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
    /// Anonymous letter or call: no identity, no reply owed.
    #[serde(default)]
    pub anonymous: bool,
    /// The petitioner, or for a collective matter its representatives (at most 5).
    #[serde(default)]
    pub petitioners: Vec<Petitioner>,
    #[serde(default)]
    pub collective: Option<Collective>,
    #[serde(default)]
    pub letter: Option<LetterDetails>,
    #[serde(default)]
    pub visit: Option<VisitDetails>,
    /// For accusations: the accused unit's id (never receives the case).
    #[serde(default)]
    pub accused_unit_id: Option<String>,
    /// The answer given on the spot; the case closes at intake.
    #[serde(default)]
    pub on_the_spot_answer: Option<String>,
    /// Matters for courts, arbitration or administrative review: not accepted, referred.
    #[serde(default)]
    pub referral: Option<Referral>,
    /// A case handed down by a superior body.
    #[serde(default)]
    pub superior: Option<Superior>,
}

/// The receipt handed to the petitioner.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Receipt {
    pub case_id: Uuid,
    pub registration_no: String,
    /// With the registration number, lets the petitioner follow the case.
    pub query_code: String,
    /// registered | closed | not_accepted
    pub status: String,
    pub confidential: bool,
    pub message: String,
    pub referral_channel: Option<String>,
    /// When acceptance will be decided, by the policy in force (supervision's
    /// deadline preview); absent for anonymous, referred and on-the-spot items, or
    /// when supervision could not be asked.
    pub acceptance_deadline: Option<crate::peers::Preview>,
}

fn channel(s: &str) -> Option<Channel> {
    match s {
        "letter" => Some(Channel::Letter),
        "visit" => Some(Channel::Visit),
        "phone" => Some(Channel::Phone),
        "online" => Some(Channel::Online),
        _ => None,
    }
}

fn urgency(s: Option<&str>) -> Option<Urgency> {
    match s.unwrap_or("normal") {
        "normal" => Some(Urgency::Normal),
        "important" => Some(Urgency::Important),
        "urgent" => Some(Urgency::Urgent),
        _ => None,
    }
}

pub fn referral_name(channel: &str) -> Option<&'static str> {
    match channel {
        "court" => Some("人民法院（诉讼）"),
        "arbitration" => Some("仲裁机构（仲裁）"),
        "administrative_review" => Some("行政复议机关（行政复议）"),
        _ => None,
    }
}

fn text_field(errors: &mut Vec<FieldError>, field: &str, v: Option<&str>, max: usize) {
    if let Some(v) = v
        && v.chars().count() > max
    {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
}

/// What the category taxonomy says of a category.
pub struct CategoryInfo {
    pub class: String,
}

/// A registration whose every field was checked.
pub struct Checked {
    pub input: NewCase,
    pub channel: Channel,
    pub urgency: Urgency,
    pub code: Code,
    pub confidential: bool,
    pub received_at: DateTime<Utc>,
    /// The acceptance deadline by the policy in force, when one is owed and known.
    pub acceptance: Option<crate::peers::Preview>,
}

/// Checks every field and returns all problems at once.
/// `category` is what the taxonomy says of `b.category` (None when it is not an
/// active category).
pub fn check(
    tree: &Tree,
    now: DateTime<Utc>,
    category: Option<CategoryInfo>,
    b: NewCase,
) -> Result<Checked, Problem> {
    let mut e = Vec::new();
    let ch = channel(&b.channel);
    if ch.is_none() {
        e.push(FieldError::new(
            "channel",
            "must be one of letter, visit, phone, online",
        ));
    }
    let urg = urgency(b.urgency.as_deref());
    if urg.is_none() {
        e.push(FieldError::new(
            "urgency",
            "must be one of normal, important, urgent",
        ));
    }
    let code = match Code::parse(&b.jurisdiction_code) {
        Ok(c) if tree.contains(&c) => Some(c),
        Ok(_) => {
            e.push(FieldError::new(
                "jurisdiction_code",
                "is not a known jurisdiction code",
            ));
            None
        }
        Err(err) => {
            e.push(FieldError::new("jurisdiction_code", err.to_string()));
            None
        }
    };
    if b.summary.trim().is_empty() {
        e.push(FieldError::new("summary", "must not be empty"));
    }
    text_field(&mut e, "summary", Some(&b.summary), TEXT_MAX);
    text_field(&mut e, "requests", b.requests.as_deref(), TEXT_MAX);
    text_field(
        &mut e,
        "on_the_spot_answer",
        b.on_the_spot_answer.as_deref(),
        TEXT_MAX,
    );
    let cat = category;
    if cat.is_none() {
        e.push(FieldError::new("category", "is not a known category code"));
    }
    let confidential = cat.as_ref().is_some_and(|c| c.class == "accusation");
    if b.received_at.is_some_and(|t| t > now) {
        e.push(FieldError::new("received_at", "must not be in the future"));
    }
    let today = now.with_timezone(&Shanghai).date_naive();

    // Identity.
    if b.anonymous {
        if !matches!(ch, Some(Channel::Letter) | Some(Channel::Phone) | None) {
            e.push(FieldError::new(
                "anonymous",
                "only letters and calls may be anonymous",
            ));
        }
        if !b.petitioners.is_empty() {
            e.push(FieldError::new(
                "petitioners",
                "an anonymous item carries no identity",
            ));
        }
        if b.collective.is_some() {
            e.push(FieldError::new(
                "collective",
                "an anonymous item cannot be collective",
            ));
        }
    } else if b.petitioners.is_empty() {
        e.push(FieldError::new(
            "petitioners",
            "name at least one petitioner, or mark the item anonymous",
        ));
    }
    for (i, p) in b.petitioners.iter().enumerate() {
        let f = |k: &str| format!("petitioners[{i}].{k}");
        match p.name.as_deref().map(str::trim) {
            None | Some("") => e.push(FieldError::new(f("name"), "is required")),
            Some(n) if n.chars().count() > 50 => {
                e.push(FieldError::new(f("name"), "must be at most 50 characters"))
            }
            _ => {}
        }
        if let Some(g) = &p.gender
            && !["male", "female", "unspecified"].contains(&g.as_str())
        {
            e.push(FieldError::new(
                f("gender"),
                "must be male, female or unspecified",
            ));
        }
        if let Some(a) = p.age
            && !(0..=130).contains(&a)
        {
            e.push(FieldError::new(f("age"), "must be 0 to 130"));
        }
        text_field(&mut e, &f("occupation"), p.occupation.as_deref(), 50);
        text_field(
            &mut e,
            &f("political_status"),
            p.political_status.as_deref(),
            30,
        );
        text_field(&mut e, &f("address"), p.address.as_deref(), 200);
        text_field(&mut e, &f("work_unit"), p.work_unit.as_deref(), 200);
        if let Some(ph) = &p.phone
            && !crate::vault::valid_phone(ph)
        {
            e.push(FieldError::new(
                f("phone"),
                "is not a valid mobile or landline number",
            ));
        }
        if let Some(id) = &p.id_number
            && !crate::vault::valid_id_number(id)
        {
            e.push(FieldError::new(
                f("id_number"),
                "is not a valid 18-character resident ID number (checksum or birth date)",
            ));
        }
    }
    match &b.collective {
        Some(c) => {
            if !(2..=100_000).contains(&c.headcount) {
                e.push(FieldError::new(
                    "collective.headcount",
                    "must be 2 to 100000",
                ));
            }
            if b.petitioners.len() > MAX_REPRESENTATIVES {
                e.push(FieldError::new(
                    "petitioners",
                    format!(
                        "a collective matter names at most {MAX_REPRESENTATIVES} representatives"
                    ),
                ));
            }
            if (b.petitioners.len() as i64) > c.headcount {
                e.push(FieldError::new(
                    "collective.headcount",
                    "must be at least the number of representatives",
                ));
            }
        }
        None if b.petitioners.len() > MAX_REPRESENTATIVES => {
            e.push(FieldError::new("petitioners", format!("at most {MAX_REPRESENTATIVES} petitioners; register a collective matter with its headcount")));
        }
        None => {}
    }

    // Channel details.
    match ch {
        Some(Channel::Letter) => match &b.letter {
            None => e.push(FieldError::new("letter", "is required for a letter")),
            Some(l) => {
                match l.received_on {
                    None => e.push(FieldError::new("letter.received_on", "is required")),
                    Some(d) if d > today => e.push(FieldError::new(
                        "letter.received_on",
                        "must not be in the future",
                    )),
                    _ => {}
                }
                if let Some(d) = l.dated {
                    if d > today {
                        e.push(FieldError::new("letter.dated", "must not be in the future"));
                    } else if l.received_on.is_some_and(|r| d > r) {
                        e.push(FieldError::new(
                            "letter.dated",
                            "must not be after the day it was received",
                        ));
                    }
                }
                match l.envelope_condition.as_deref() {
                    Some("intact" | "damaged" | "opened" | "none") => {}
                    _ => e.push(FieldError::new(
                        "letter.envelope_condition",
                        "must be intact, damaged, opened or none",
                    )),
                }
                if l.attachments.len() > 50 {
                    e.push(FieldError::new(
                        "letter.attachments",
                        "at most 50 attachments",
                    ));
                }
                for (i, a) in l.attachments.iter().enumerate() {
                    if a.name.trim().is_empty() || a.name.chars().count() > 200 {
                        e.push(FieldError::new(
                            format!("letter.attachments[{i}].name"),
                            "must be 1 to 200 characters",
                        ));
                    }
                    if !(0..=100 * 1024 * 1024).contains(&a.size_bytes) {
                        e.push(FieldError::new(
                            format!("letter.attachments[{i}].size_bytes"),
                            "must be 0 to 104857600",
                        ));
                    }
                    if a.content_ref.trim().is_empty() || a.content_ref.len() > 500 {
                        e.push(FieldError::new(
                            format!("letter.attachments[{i}].content_ref"),
                            "must be 1 to 500 characters",
                        ));
                    }
                }
            }
        },
        Some(Channel::Visit) => match &b.visit {
            None => e.push(FieldError::new("visit", "is required for a visit")),
            Some(v) => {
                let mut staff: Vec<&str> = v
                    .receiving_staff
                    .iter()
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .collect();
                staff.sort_unstable();
                staff.dedup();
                if staff.len() < 2 {
                    e.push(FieldError::new(
                        "visit.receiving_staff",
                        "a visitor is received by at least two staff",
                    ));
                }
                if v.materials.len() > 100 {
                    e.push(FieldError::new("visit.materials", "at most 100 items"));
                }
            }
        },
        _ => {}
    }
    if ch != Some(Channel::Letter) && b.letter.is_some() {
        e.push(FieldError::new("letter", "only for channel letter"));
    }
    if ch != Some(Channel::Visit) && b.visit.is_some() {
        e.push(FieldError::new("visit", "only for channel visit"));
    }
    if b.accused_unit_id.is_some() && !confidential {
        e.push(FieldError::new(
            "accused_unit_id",
            "only for accusations (检举控告)",
        ));
    }
    if let Some(r) = &b.referral
        && referral_name(&r.channel).is_none()
    {
        e.push(FieldError::new(
            "referral.channel",
            "must be court, arbitration or administrative_review",
        ));
    }
    if b.referral.is_some() && b.on_the_spot_answer.is_some() {
        e.push(FieldError::new(
            "on_the_spot_answer",
            "a referred matter is not answered on the spot",
        ));
    }
    if let Some(s) = &b.superior
        && (s.reference.trim().is_empty() || s.reference.len() > 100)
    {
        e.push(FieldError::new(
            "superior.reference",
            "must be 1 to 100 characters",
        ));
    }
    if !e.is_empty() {
        return Err(Problem::validation(e));
    }
    let (Some(channel), Some(urgency), Some(code)) = (ch, urg, code) else {
        return Err(Problem::internal(&"validated fields missing"));
    };
    Ok(Checked {
        received_at: b.received_at.unwrap_or(now),
        input: b,
        channel,
        urgency,
        code,
        confidential,
        acceptance: None,
    })
}

pub(crate) fn urgency_name(u: Urgency) -> &'static str {
    match u {
        Urgency::Important => "important",
        Urgency::Urgent => "urgent",
        _ => "normal",
    }
}
