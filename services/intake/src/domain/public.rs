//! What the public Open311 list may show of a request: only requests in the
//! categories the service list marks public; the place coarsened to the township; the
//! description with phone and ID numbers masked.

use xf_jurisdiction::{Code, Tier};

/// The place shown publicly: a village's township, otherwise the code itself.
pub fn public_place(code: &Code) -> Code {
    match code.tier() {
        Tier::Village => code.parent().unwrap_or_else(|| code.clone()),
        _ => code.clone(),
    }
}

/// What replaces a masked number.
pub const MASK: &str = "＊＊＊";

/// The text with every run of seven or more digits (phone numbers, ID numbers, with
/// spaces or hyphens inside and an ID's final X) replaced by [`MASK`].
pub fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // A run: digits, with single separators between digits.
        let start = i;
        let mut end = i;
        let mut digits = 0;
        let mut j = i;
        while j < chars.len() {
            let c = chars[j];
            if c.is_ascii_digit() {
                digits += 1;
                end = j + 1;
                j += 1;
            } else if matches!(c, ' ' | '-') && chars.get(j + 1).is_some_and(char::is_ascii_digit) {
                j += 1;
            } else {
                break;
            }
        }
        if chars.get(end).is_some_and(|c| matches!(c, 'X' | 'x')) && digits == 17 {
            end += 1;
        }
        if digits >= 7 {
            out.push_str(MASK);
        } else {
            out.extend(&chars[start..end]);
        }
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn villages_show_as_their_township() {
        let c = |s: &str| Code::parse(s).expect("code");
        assert_eq!(public_place(&c("330122002200")), c("330122002"));
        assert_eq!(public_place(&c("330122002")), c("330122002"));
        assert_eq!(public_place(&c("330122")), c("330122"));
    }

    #[test]
    fn phone_and_id_numbers_are_masked_figures_stay() {
        assert_eq!(
            mask_numbers("路灯坏了，联系13800138000张先生"),
            "路灯坏了，联系＊＊＊张先生"
        );
        assert_eq!(mask_numbers("电话 138-0013-8000。"), "电话 ＊＊＊。");
        assert_eq!(mask_numbers("身份证11010519491231002X"), "身份证＊＊＊");
        assert_eq!(mask_numbers("0571-64212345"), "＊＊＊");
        assert_eq!(
            mask_numbers("2025年3月起，共3处坑洼，约120米"),
            "2025年3月起，共3处坑洼，约120米"
        );
        assert_eq!(mask_numbers("1 2 3"), "1 2 3");
        assert_eq!(mask_numbers(""), "");
    }
}
