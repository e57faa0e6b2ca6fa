//! One ordered value model rendered as the spec's JSON or XML, and the spec's error
//! arrays.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// The response formats of GeoReport v2: the resource's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    pub fn parse(ext: &str) -> Option<Format> {
        match ext {
            "json" => Some(Format::Json),
            "xml" => Some(Format::Xml),
            _ => None,
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "text/xml; charset=utf-8",
        }
    }
}

/// A value with its field order kept and the element name of list items given.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    /// Items; in XML each is an element of the given name.
    List(&'static str, Vec<V>),
    Obj(Vec<(&'static str, V)>),
}

impl V {
    pub fn s(v: impl Into<String>) -> V {
        V::Str(v.into())
    }
    pub fn opt(v: Option<impl Into<String>>) -> V {
        v.map_or(V::Null, |v| V::Str(v.into()))
    }
}

impl Serialize for V {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            V::Null => s.serialize_none(),
            V::Bool(b) => s.serialize_bool(*b),
            V::Int(i) => s.serialize_i64(*i),
            V::Str(t) => s.serialize_str(t),
            V::List(_, items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            V::Obj(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// Escapes text for XML content and drops characters XML 1.0 cannot carry.
pub fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

fn element(out: &mut String, name: &str, v: &V) {
    match v {
        V::Null => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>");
            return;
        }
        _ => {
            out.push('<');
            out.push_str(name);
            out.push('>');
        }
    }
    match v {
        V::Null => {}
        V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        V::Int(i) => out.push_str(&i.to_string()),
        V::Str(t) => escape(out, t),
        V::List(item, items) => {
            for i in items {
                element(out, item, i);
            }
        }
        V::Obj(fields) => {
            for (k, v) in fields {
                element(out, k, v);
            }
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// An XML document whose root element is `root`.
pub fn xml(root: &str, v: &V) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    element(&mut out, root, v);
    out
}

/// A response in the requested format; `root` names the XML root element.
pub fn respond(format: Format, status: StatusCode, root: &str, v: &V) -> HttpResponse {
    let body = match format {
        Format::Json => serde_json::to_string(v).unwrap_or_else(|_| "[]".into()),
        Format::Xml => xml(root, v),
    };
    HttpResponse::build(status)
        .content_type(format.content_type())
        .body(body)
}

/// A failure answered as the spec's error array.
#[derive(Debug, Clone, PartialEq)]
pub struct Fail {
    pub status: StatusCode,
    pub descriptions: Vec<String>,
}

impl Fail {
    pub fn new(status: StatusCode, description: impl Into<String>) -> Fail {
        Fail {
            status,
            descriptions: vec![description.into()],
        }
    }
    pub fn bad_request(description: impl Into<String>) -> Fail {
        Fail::new(StatusCode::BAD_REQUEST, description)
    }
    pub fn forbidden(description: impl Into<String>) -> Fail {
        Fail::new(StatusCode::FORBIDDEN, description)
    }
    pub fn not_found(description: impl Into<String>) -> Fail {
        Fail::new(StatusCode::NOT_FOUND, description)
    }
    /// The database or another dependency failed; the cause is logged, not shown.
    pub fn unavailable(cause: &dyn std::fmt::Display) -> Fail {
        tracing::error!(error = %cause, "open311: dependency failed");
        Fail::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is temporarily unavailable; try again later",
        )
    }

    /// `[{code, description}]`, or `<errors><error>…</error></errors>`.
    pub fn respond(&self, format: Format) -> HttpResponse {
        let code = i64::from(self.status.as_u16());
        let items = self
            .descriptions
            .iter()
            .map(|d| {
                V::Obj(vec![
                    ("code", V::Int(code)),
                    ("description", V::s(d.as_str())),
                ])
            })
            .collect();
        let mut resp = respond(format, self.status, "errors", &V::List("error", items));
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            // A client's budget sets its own; a busy service asks for a few seconds.
            resp.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static("5"),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_json_and_escaped_xml_in_order() {
        let v = V::List(
            "request",
            vec![V::Obj(vec![
                ("service_request_id", V::s("330122-2025-000001")),
                ("description", V::s("a<b & \"c\" 'd' \u{1}e")),
                ("zipcode", V::Null),
                ("formats", V::List("format", vec![V::s("text/xml")])),
                ("metadata", V::Bool(true)),
                ("code", V::Int(400)),
            ])],
        );
        assert_eq!(
            serde_json::to_string(&v).expect("json"),
            r#"[{"service_request_id":"330122-2025-000001","description":"a<b & \"c\" 'd' \u0001e","zipcode":null,"formats":["text/xml"],"metadata":true,"code":400}]"#
        );
        assert_eq!(
            xml("service_requests", &v),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><service_requests><request>\
             <service_request_id>330122-2025-000001</service_request_id>\
             <description>a&lt;b &amp; &quot;c&quot; &apos;d&apos; e</description>\
             <zipcode/><formats><format>text/xml</format></formats>\
             <metadata>true</metadata><code>400</code></request></service_requests>"
        );
    }
}
