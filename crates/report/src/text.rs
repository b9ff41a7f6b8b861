//! Text that goes into a filing: escaping, cleaning of hostile input, money and dates.

use std::io::Write;

/// Tera's escape function for XML and HTML output: the five markup characters become
/// entities, and characters XML 1.0 cannot carry at all (control characters other than tab,
/// line feed and carriage return, U+FFFE, U+FFFF) become U+FFFD. Names are cleaned before
/// they reach a template (see [`clean`]); this is the last guard, not the first.
///
/// ```
/// let mut out = Vec::new();
/// custos_report::escape_markup("A&B <x> \"q\" 'a'\u{1}", &mut out).unwrap();
/// assert_eq!(String::from_utf8(out).unwrap(), "A&amp;B &lt;x&gt; &quot;q&quot; &#39;a&#39;\u{FFFD}");
/// ```
pub fn escape_markup(input: &str, out: &mut dyn Write) -> std::io::Result<()> {
    let mut buf = [0u8; 4];
    for c in input.chars() {
        match c {
            '&' => out.write_all(b"&amp;")?,
            '<' => out.write_all(b"&lt;")?,
            '>' => out.write_all(b"&gt;")?,
            '"' => out.write_all(b"&quot;")?,
            '\'' => out.write_all(b"&#39;")?,
            '\t' | '\n' | '\r' => out.write_all(c.encode_utf8(&mut buf).as_bytes())?,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.write_all("\u{FFFD}".as_bytes())?,
            c => out.write_all(c.encode_utf8(&mut buf).as_bytes())?,
        }
    }
    Ok(())
}

/// A value cleaned for a filing, and what had to be done to it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct Cleaned {
    /// The text to print.
    pub text: String,
    /// What was changed, for the officer's review list (empty if nothing).
    pub flags: Vec<String>,
}

/// Cleans free text from the warehouse for a field of at most `max_chars` characters:
/// control characters and line breaks become spaces, runs of spaces collapse, and text that
/// is too long is cut at a character boundary. Each change is flagged.
///
/// ```
/// let c = custos_report::clean("Wang\u{0}  Wei\n", 8);
/// assert_eq!(c.text, "Wang Wei");
/// assert_eq!(c.flags.len(), 1);
/// ```
pub fn clean(input: &str, max_chars: usize) -> Cleaned {
    let mut flags = Vec::new();
    let mut text = String::with_capacity(input.len());
    let mut controls = false;
    let mut last_space = true;
    for c in input.chars() {
        let c = if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' {
            if !matches!(c, ' ') {
                controls = true;
            }
            ' '
        } else {
            c
        };
        if c == ' ' {
            if !last_space {
                text.push(' ');
            }
            last_space = true;
        } else {
            text.push(c);
            last_space = false;
        }
    }
    let trimmed = text.trim_end().to_string();
    if controls {
        flags.push("control characters or line breaks replaced by spaces".to_string());
    }
    let count = trimmed.chars().count();
    let text = if count > max_chars {
        flags.push(format!("cut from {count} to {max_chars} characters"));
        trimmed
            .chars()
            .take(max_chars)
            .collect::<String>()
            .trim_end()
            .to_string()
    } else {
        trimmed
    };
    Cleaned { text, flags }
}

/// Whether every character is one a Latin-only schema field accepts: printable ASCII and
/// Latin-1/Latin Extended letters. CJK and other scripts are not.
pub fn is_latin(s: &str) -> bool {
    s.chars()
        .all(|c| (' '..='~').contains(&c) || ('\u{00C0}'..='\u{024F}').contains(&c))
}

/// Rounds a decimal text (as Arrow prints Decimal128: `-123.4567`) to `digits` fraction
/// digits, half away from zero, without ever going through a float.
///
/// ```
/// assert_eq!(custos_report::round_decimal("49999.9950", 2), "50000.00");
/// assert_eq!(custos_report::round_decimal("-0.0049", 2), "0.00");
/// assert_eq!(custos_report::round_decimal("12", 2), "12.00");
/// assert_eq!(custos_report::round_decimal("7.5", 0), "8");
/// ```
pub fn round_decimal(text: &str, digits: usize) -> String {
    let t = text.trim();
    let (neg, t) = t.strip_prefix('-').map_or((false, t), |r| (true, r));
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let mut all: Vec<u8> = int
        .bytes()
        .chain(frac.bytes().chain(std::iter::repeat(b'0')).take(digits))
        .collect();
    let round_up = frac.as_bytes().get(digits).is_some_and(|d| *d >= b'5');
    if round_up {
        let mut i = all.len();
        loop {
            if i == 0 {
                all.insert(0, b'1');
                break;
            }
            i -= 1;
            if all[i] == b'9' {
                all[i] = b'0';
            } else {
                all[i] += 1;
                break;
            }
        }
    }
    let split = all.len() - digits;
    let mut int_part = String::from_utf8_lossy(&all[..split])
        .trim_start_matches('0')
        .to_string();
    if int_part.is_empty() {
        int_part.push('0');
    }
    let frac_part = String::from_utf8_lossy(&all[split..]).to_string();
    let zero = int_part == "0" && frac_part.bytes().all(|b| b == b'0');
    let sign = if neg && !zero { "-" } else { "" };
    if digits == 0 {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{frac_part}")
    }
}

/// Groups thousands for a human reader: `1234567.50` -> `1,234,567.50`.
pub fn thousands(text: &str) -> String {
    let (sign, t) = text.strip_prefix('-').map_or(("", text), |r| ("-", r));
    let (int, frac) = t.split_once('.').map_or((t, None), |(a, b)| (a, Some(b)));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_handles_hostile_text() {
        let long = "x".repeat(300);
        let c = clean(&long, 255);
        assert_eq!(c.text.chars().count(), 255);
        assert_eq!(c.flags.len(), 1);
        let c = clean("  <b>&'\"\u{7}王伟  ", 50);
        assert_eq!(c.text, "<b>&'\" 王伟");
        assert!(is_latin("Zoë O'Brien-Müller & Co."));
        assert!(!is_latin("王伟"));
        assert_eq!(thousands("1234567.50"), "1,234,567.50");
        assert_eq!(thousands("-999"), "-999");
        assert_eq!(round_decimal("99.995", 2), "100.00");
    }
}
