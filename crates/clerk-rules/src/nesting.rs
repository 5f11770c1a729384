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
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in text {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    #[test]
    fn brackets_inside_strings_and_escaped_quotes_do_not_count() {
        assert_eq!(super::depth(br#"["\"[[[", {"k": "\\"}, [[]]]"#), 3);
        assert_eq!(super::depth(&[b'['; 300]), 300);
        assert_eq!(super::depth(b"]]]}"), 0);
    }
}
