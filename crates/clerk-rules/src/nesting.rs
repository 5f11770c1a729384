//! How deeply a JSON text nests: Clerk accepts bodies nested to 128 levels, and both the
//! client (decoding a response) and the emulator (reloading a state file) must measure a text
//! before handing it to a parser whose depth bound it exceeds.
//!
//! ```
//! assert_eq!(clerk_rules::nesting::depth(br#"{"a":[1,{"b":"]]]"}]}"#), 3);
//! assert_eq!(clerk_rules::nesting::depth(b"42"), 0);
//! ```

/// The deepest nesting of arrays and objects in `text`, strings (and their escapes) skipped.
/// Linear and allocation-free; meant for text that failed to parse for its depth, so it is
/// well-formed JSON up to that point (on other input it still returns, with no meaning).
pub fn depth(text: &[u8]) -> usize {
    let mut nesting = Nesting::default();
    text.iter().map(|&b| nesting.push(b)).max().unwrap_or(0)
}

/// [`depth`] one byte at a time, for a text read in pieces (a file streamed to a parser whose
/// depth bound it must not exceed):
///
/// ```
/// let mut nesting = clerk_rules::nesting::Nesting::default();
/// let depths: Vec<usize> = br#"[{"a":"[\"]"}]"#.iter().map(|&b| nesting.push(b)).collect();
/// assert_eq!(depths.iter().max(), Some(&2));
/// assert_eq!(nesting.depth(), 0);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Nesting {
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Nesting {
    /// Takes the next byte of the text; returns the nesting depth after it.
    pub fn push(&mut self, b: u8) -> usize {
        if self.in_string {
            match b {
                _ if self.escaped => self.escaped = false,
                b'\\' => self.escaped = true,
                b'"' => self.in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => self.in_string = true,
                b'[' | b'{' => self.depth += 1,
                b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        self.depth
    }

    /// The depth at the current position.
    pub fn depth(&self) -> usize {
        self.depth
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn brackets_inside_strings_and_escaped_quotes_do_not_count() {
        assert_eq!(super::depth(br#"["\"[[[", {"k": "\\"}, [[]]]"#), 3);
        assert_eq!(super::depth(&[b'['; 300]), 300);
        assert_eq!(super::depth(b"]]]}"), 0);
    }

    #[test]
    fn fed_in_pieces_it_measures_what_the_whole_text_does() {
        let text = br#"{"k": "\\\"[[", "a": [[{"b": "]"}], [1]]}"#;
        let whole = super::depth(text);
        assert_eq!(whole, 4);
        // Split at every position, the escape and string state carry across the cut.
        for cut in 0..text.len() {
            let mut n = super::Nesting::default();
            let first = text[..cut].iter().map(|&b| n.push(b)).max().unwrap_or(0);
            let second = text[cut..].iter().map(|&b| n.push(b)).max().unwrap_or(0);
            assert_eq!(first.max(second), whole, "cut at {cut}");
            assert_eq!(n.depth(), 0);
        }
    }
}
