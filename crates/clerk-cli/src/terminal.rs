//! What the CLI prints. Error codes, messages, trace ids and values quoted from an
//! input file come from a server or a file; a control character among them (ESC
//! `[2J`, an OSC title change, a bidi override) would act on the terminal. Every
//! line the CLI prints goes through [`neutral`], by way of [`say!`] (stdout) and
//! [`tell!`] (stderr), and every JSON line it writes through [`JsonEscapes`]. clippy.toml
//! forbids `println!` and `eprintln!` elsewhere in the crate.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io;

/// Whether `c` would act on a terminal or reorder what it shows: the C0 and C1
/// controls and DEL (tab and line feed excepted: the CLI's own layout uses them),
/// and the bidirectional overrides and isolates.
fn is_active(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// `text` with every active character written as a visible `\u001b`-style escape
/// (the JSON spelling, so a JSON line stays valid and means the same).
pub(crate) fn neutral(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_active) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_active(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `println!`, with the line made [`neutral`].
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::terminal::stdout_line(&format!($($arg)*))
    };
}

/// `eprintln!`, with the line made [`neutral`].
macro_rules! tell {
    ($($arg:tt)*) => {
        $crate::terminal::stderr_line(&format!($($arg)*))
    };
}

/// Prints `line` to stdout, made [`neutral`] (what [`say!`] expands to).
#[allow(clippy::disallowed_macros)]
pub(crate) fn stdout_line(line: &str) {
    println!("{}", neutral(line));
}

/// Prints `line` to stderr, made [`neutral`] (what [`tell!`] expands to).
#[allow(clippy::disallowed_macros)]
pub(crate) fn stderr_line(line: &str) {
    eprintln!("{}", neutral(line));
}

pub(crate) use {say, tell};

/// A serde_json formatter that also escapes what serde_json leaves raw in strings
/// (DEL, the C1 controls, bidi overrides), so exported lines are the same JSON and
/// harmless on a terminal.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct JsonEscapes;

impl serde_json::ser::Formatter for JsonEscapes {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        writer.write_all(neutral(fragment).as_bytes())
    }
}

/// Writes `value` as one line of JSON through [`JsonEscapes`].
pub(crate) fn write_json<W: io::Write, T: serde::Serialize + ?Sized>(
    out: &mut W,
    value: &T,
) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, JsonEscapes);
    value.serialize(&mut ser).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_become_visible_escapes() {
        let hostile = "code\u{1b}[2J\u{1b}]0;pwned\u{7}\r\u{9b}31m\u{202e}txt.exe";
        let shown = neutral(hostile);
        assert!(!shown.chars().any(is_active), "{shown:?}");
        assert_eq!(
            shown,
            "code\\u001b[2J\\u001b]0;pwned\\u0007\\u000d\\u009b31m\\u202etxt.exe"
        );
        assert!(matches!(neutral("plain\ttext\nok"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_lines_stay_the_same_json() {
        let value = serde_json::json!({"name": "a\u{7f}b\u{9b}c\u{1b}d\u{202e}", "n": 1});
        let mut line = Vec::new();
        write_json(&mut line, &value).unwrap();
        let text = String::from_utf8(line).unwrap();
        let text = text.strip_suffix('\n').expect("one line");
        assert!(!text.chars().any(is_active), "{text}");
        let back: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(back, value);
        // A JSON report printed with `say!` is neutral and still the same JSON.
        let raw = value.to_string();
        let shown: serde_json::Value = serde_json::from_str(&neutral(&raw)).unwrap();
        assert_eq!(shown, value);
    }
}
