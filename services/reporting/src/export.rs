//! Downloads: CSV (RFC 4180, UTF-8 with a byte-order mark so spreadsheet programs read
//! Chinese text) and XLSX (rust_xlsxwriter).

use rust_xlsxwriter::{Workbook, XlsxError};
use serde_json::Value;

pub const CSV: &str = "text/csv; charset=utf-8";
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// One CSV field, quoted when it needs to be.
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// A JSON value as a cell's text (null as empty).
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One CSV line.
pub fn line(cells: &[String]) -> String {
    let mut s = cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(",");
    s.push_str("\r\n");
    s
}

/// A sheet: its name, header and rows of JSON values.
pub struct Sheet<'a> {
    pub name: &'a str,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// A whole CSV document of one table.
pub fn csv(header: &[String], rows: &[Vec<Value>]) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(&line(header));
    for r in rows {
        out.push_str(&line(&r.iter().map(text).collect::<Vec<_>>()));
    }
    out
}

/// An XLSX workbook of the sheets; numbers stay numbers.
pub fn xlsx(sheets: &[Sheet<'_>]) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    for s in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(s.name)?;
        for (c, h) in s.header.iter().enumerate() {
            ws.write_string(0, u16::try_from(c).unwrap_or(u16::MAX), h)?;
        }
        for (r, row) in s.rows.iter().enumerate() {
            let r = u32::try_from(r + 1).unwrap_or(u32::MAX);
            for (c, v) in row.iter().enumerate() {
                let c = u16::try_from(c).unwrap_or(u16::MAX);
                match v {
                    Value::Null => {}
                    Value::Number(n) => {
                        ws.write_number(r, c, n.as_f64().unwrap_or(0.0))?;
                    }
                    Value::Bool(b) => {
                        ws.write_boolean(r, c, *b)?;
                    }
                    other => {
                        ws.write_string(r, c, text(other))?;
                    }
                }
            }
        }
    }
    wb.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_when_needed() {
        assert_eq!(field("a"), "a");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(line(&["1".into(), "".into()]), "1,\r\n");
    }
}
