//! RFC 5545 iCalendar for the published schedule: one VEVENT per session with its stable
//! UID, SEQUENCE and STATUS, local times in Asia/Shanghai with its VTIMEZONE; and a
//! rule as an RFC 7529 recurrence (`RSCALE=CHINESE` for lunar days).
//!
//! Lines end in CRLF and are folded at 75 octets without splitting a UTF-8 character;
//! text values escape backslash, semicolon, comma and newlines.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

/// China Standard Time has had no daylight saving since 1991: one STANDARD component.
const VTIMEZONE: &[&str] = &[
    "BEGIN:VTIMEZONE",
    "TZID:Asia/Shanghai",
    "X-LIC-LOCATION:Asia/Shanghai",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0800",
    "TZOFFSETTO:+0800",
    "TZNAME:CST",
    "DTSTART:19700101T000000",
    "END:STANDARD",
    "END:VTIMEZONE",
];

/// Escapes a TEXT value (RFC 5545 §3.3.11).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded at 75 octets (§3.1), ending in CRLF.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

fn local(d: NaiveDate, t: NaiveTime) -> String {
    format!("{}T{}", d.format("%Y%m%d"), t.format("%H%M%S"))
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// One session as an event.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub uid: String,
    pub sequence: i32,
    pub date: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub summary: &'a str,
    pub location: &'a str,
    pub description: &'a str,
    pub cancelled: bool,
    pub updated_at: DateTime<Utc>,
    pub categories: &'a str,
}

/// A calendar of sessions.
pub fn calendar(name: &str, events: &[Event<'_>]) -> String {
    let mut out = String::with_capacity(256 + events.len() * 420);
    head(&mut out, name);
    for e in events {
        line(&mut out, "BEGIN:VEVENT");
        line(&mut out, &format!("UID:{}", e.uid));
        line(&mut out, &format!("DTSTAMP:{}", utc(e.updated_at)));
        line(&mut out, &format!("LAST-MODIFIED:{}", utc(e.updated_at)));
        line(&mut out, &format!("SEQUENCE:{}", e.sequence));
        line(
            &mut out,
            &format!("DTSTART;TZID=Asia/Shanghai:{}", local(e.date, e.start)),
        );
        line(
            &mut out,
            &format!("DTEND;TZID=Asia/Shanghai:{}", local(e.date, e.end)),
        );
        line(&mut out, &format!("SUMMARY:{}", escape(e.summary)));
        line(&mut out, &format!("LOCATION:{}", escape(e.location)));
        if !e.description.is_empty() {
            line(&mut out, &format!("DESCRIPTION:{}", escape(e.description)));
        }
        line(&mut out, &format!("CATEGORIES:{}", escape(e.categories)));
        line(
            &mut out,
            if e.cancelled {
                "STATUS:CANCELLED"
            } else {
                "STATUS:CONFIRMED"
            },
        );
        line(&mut out, "TRANSP:OPAQUE");
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

fn head(out: &mut String, name: &str) {
    line(out, "BEGIN:VCALENDAR");
    line(out, "VERSION:2.0");
    line(out, "PRODID:-//Xinfang//Reception calendar//ZH");
    line(out, "CALSCALE:GREGORIAN");
    line(out, "METHOD:PUBLISH");
    line(out, &format!("X-WR-CALNAME:{}", escape(name)));
    line(out, "X-WR-TIMEZONE:Asia/Shanghai");
    line(out, "REFRESH-INTERVAL;VALUE=DURATION:PT6H");
    line(out, "X-PUBLISHED-TTL:PT6H");
    for l in VTIMEZONE {
        line(out, l);
    }
}

/// A rule as a recurring event.
#[derive(Debug, Clone)]
pub struct Recurrence<'a> {
    pub uid: String,
    pub first: NaiveDate,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub until: NaiveDate,
    pub rrule: &'a str,
    pub exdates: &'a [NaiveDate],
    pub rdates: &'a [NaiveDate],
    pub summary: &'a str,
    pub location: &'a str,
    pub stamp: DateTime<Utc>,
}

/// A calendar with one recurring event per rule slot (RFC 7529 where lunar).
pub fn recurrence(name: &str, items: &[Recurrence<'_>]) -> String {
    let mut out = String::new();
    head(&mut out, name);
    for r in items {
        line(&mut out, "BEGIN:VEVENT");
        line(&mut out, &format!("UID:{}", r.uid));
        line(&mut out, &format!("DTSTAMP:{}", utc(r.stamp)));
        line(
            &mut out,
            &format!("DTSTART;TZID=Asia/Shanghai:{}", local(r.first, r.start)),
        );
        line(
            &mut out,
            &format!("DTEND;TZID=Asia/Shanghai:{}", local(r.first, r.end)),
        );
        // UNTIL in UTC, as RFC 5545 asks when DTSTART has a TZID: the end of the day.
        let until = r.until.and_hms_opt(15, 59, 59).unwrap_or_default();
        line(
            &mut out,
            &format!("RRULE:{};UNTIL={}Z", r.rrule, until.format("%Y%m%dT%H%M%S")),
        );
        for chunk in r.exdates.chunks(20) {
            let mut v = String::new();
            for (i, d) in chunk.iter().enumerate() {
                let _ = write!(v, "{}{}", if i > 0 { "," } else { "" }, local(*d, r.start));
            }
            line(&mut out, &format!("EXDATE;TZID=Asia/Shanghai:{v}"));
        }
        for chunk in r.rdates.chunks(20) {
            let mut v = String::new();
            for (i, d) in chunk.iter().enumerate() {
                let _ = write!(v, "{}{}", if i > 0 { "," } else { "" }, local(*d, r.start));
            }
            line(&mut out, &format!("RDATE;TZID=Asia/Shanghai:{v}"));
        }
        line(&mut out, &format!("SUMMARY:{}", escape(r.summary)));
        line(&mut out, &format!("LOCATION:{}", escape(r.location)));
        line(&mut out, "END:VEVENT");
    }
    line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("time")
    }

    #[test]
    fn escaping_and_folding() {
        assert_eq!(escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
        let mut out = String::new();
        let long = "SUMMARY:".to_owned() + &"接访".repeat(30);
        line(&mut out, &long);
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets: {l}", l.len());
            assert!(std::str::from_utf8(l.as_bytes()).is_ok());
        }
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded.trim_end(), long);
    }

    #[test]
    fn a_calendar_with_a_cancelled_session() {
        let stamp = DateTime::parse_from_rfc3339("2025-01-02T03:04:05Z")
            .expect("t")
            .with_timezone(&Utc);
        let e = |cancelled, seq| Event {
            uid: "0196-abc@xinfang".into(),
            sequence: seq,
            date: date(2025, 1, 15),
            start: t(9, 0),
            end: t(12, 0),
            summary: "村党支部书记 王书记 接访",
            location: "村委会接待室, 一楼",
            description: "",
            cancelled,
            updated_at: stamp,
            categories: "定点接访",
        };
        let s = calendar("某村 接访日历", &[e(false, 0), e(true, 2)]);
        assert!(s.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(s.ends_with("END:VCALENDAR\r\n"));
        assert!(s.contains("BEGIN:VTIMEZONE\r\nTZID:Asia/Shanghai\r\n"));
        assert!(s.contains("DTSTART;TZID=Asia/Shanghai:20250115T090000\r\n"));
        assert!(s.contains("DTEND;TZID=Asia/Shanghai:20250115T120000\r\n"));
        assert!(s.contains("DTSTAMP:20250102T030405Z\r\n"));
        assert!(s.contains("LOCATION:村委会接待室\\, 一楼\r\n"));
        assert_eq!(s.matches("BEGIN:VEVENT").count(), 2);
        assert!(s.contains("SEQUENCE:2\r\n"));
        assert!(s.contains("STATUS:CANCELLED\r\n"));
        assert!(s.contains("STATUS:CONFIRMED\r\n"));
        assert!(!s.replace("\r\n", "").contains('\n'), "only CRLF line ends");
    }

    #[test]
    fn a_lunar_recurrence() {
        let stamp = DateTime::parse_from_rfc3339("2025-01-02T03:04:05Z")
            .expect("t")
            .with_timezone(&Utc);
        let ex = [date(2025, 2, 1)];
        let s = recurrence(
            "镇 农历逢三六九",
            &[Recurrence {
                uid: "rule-lunar-0@xinfang".into(),
                first: date(2025, 1, 3),
                start: t(9, 0),
                end: t(11, 30),
                until: date(2025, 12, 31),
                rrule: "RSCALE=CHINESE;FREQ=MONTHLY;BYMONTHDAY=3,6,9,13,16,19,23,26,29",
                exdates: &ex,
                rdates: &[],
                summary: "领导轮流接访",
                location: "群工办",
                stamp,
            }],
        );
        assert!(
            s.replace("\r\n ", "").contains(
                "RRULE:RSCALE=CHINESE;FREQ=MONTHLY;BYMONTHDAY=3,6,9,13,16,19,23,26,29;UNTIL=20251231T155959Z\r\n"
            ),
            "{s}"
        );
        assert!(s.contains("EXDATE;TZID=Asia/Shanghai:20250201T090000\r\n"));
        assert!(!s.contains("RDATE"));
    }
}
