//! Parsing a seed or state file as it is read: a buffered reader feeds serde_json one byte at
//! a time, and the visitors take one record at a time, so a file of a million users never
//! becomes a JSON tree of a million users (it once did: 2.8 GB at the peak for a 140 MB file).
//!
//! A visitor that refuses a record writes its message to the failure slot and returns an
//! error, which stops the parse; [`parse`] returns the message as it was written (serde_json
//! would append a position to it).

use std::io::{self, Read};

use clerk_rules::nesting::Nesting;
use serde::de;

use super::MAX_FILE_DEPTH;

/// Where a visitor writes why it refused the file.
pub(super) type Failure = Option<String>;

/// The deserializer [`parse`] hands its closure.
pub(super) type FileDeserializer<'a, R> =
    serde_json::Deserializer<serde_json::de::IoRead<&'a mut DepthGuard<R>>>;

/// Refuses the file with `msg`.
pub(super) fn fail<E: de::Error>(failure: &mut Failure, msg: String) -> E {
    let e = E::custom(&msg);
    *failure = Some(msg);
    e
}

/// Names where an error came from (`ctx`), unless a visitor already wrote a message.
pub(super) fn within<'a, E: de::Error>(
    failure: &'a mut Failure,
    ctx: impl FnOnce() -> String + 'a,
) -> impl FnOnce(E) -> E + 'a {
    move |e| {
        if failure.is_none() {
            *failure = Some(format!("{}: {e}", ctx()));
        }
        e
    }
}

/// Runs `f` on a deserializer reading `reader` (to be buffered) with nesting bounded by
/// [`MAX_FILE_DEPTH`], and checks that nothing follows the value.
pub(super) fn parse<R: Read, T>(
    reader: R,
    f: impl FnOnce(&mut FileDeserializer<'_, R>, &mut Failure) -> Result<T, serde_json::Error>,
) -> Result<T, String> {
    let mut guard = DepthGuard::new(reader);
    let mut failure = None;
    let result = {
        let mut de = serde_json::Deserializer::from_reader(&mut guard);
        // The guard bounds the depth instead: serde_json's own limit (128) refused state files
        // holding metadata the API had accepted.
        de.disable_recursion_limit();
        f(&mut de, &mut failure).and_then(|value| de.end().map(|()| value))
    };
    result.map_err(|e| {
        if let Some(depth) = guard.too_deep {
            too_deep(depth)
        } else {
            failure.unwrap_or_else(|| e.to_string())
        }
    })
}

fn too_deep(depth: usize) -> String {
    format!("nested {depth} levels deep, more than the {MAX_FILE_DEPTH} allowed")
}

/// A reader that measures the nesting of the text it passes on and fails before the parser
/// sees a byte nested deeper than [`MAX_FILE_DEPTH`] (the parser recurses per level, so an
/// unbounded file would overflow its stack). It then reads on to report the file's depth.
pub(super) struct DepthGuard<R> {
    inner: R,
    nesting: Nesting,
    too_deep: Option<usize>,
}

impl<R: Read> DepthGuard<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            nesting: Nesting::default(),
            too_deep: None,
        }
    }

    fn refuse(&mut self, mut deepest: usize) -> io::Error {
        let mut buf = vec![0; 64 * 1024];
        while let Ok(n @ 1..) = self.inner.read(&mut buf) {
            for &b in &buf[..n] {
                deepest = deepest.max(self.nesting.push(b));
            }
        }
        self.too_deep = Some(deepest);
        io::Error::new(io::ErrorKind::InvalidData, too_deep(deepest))
    }
}

impl<R: Read> Read for DepthGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(depth) = self.too_deep {
            return Err(io::Error::new(io::ErrorKind::InvalidData, too_deep(depth)));
        }
        let n = self.inner.read(buf)?;
        let deepest = buf[..n]
            .iter()
            .map(|&b| self.nesting.push(b))
            .max()
            .unwrap_or(0);
        if deepest > MAX_FILE_DEPTH {
            return Err(self.refuse(deepest));
        }
        Ok(n)
    }
}

/// `msg` without the " at line L column C" serde_json ends its messages with, for an error
/// wrapped into another one (which gets a position of its own).
pub(crate) fn without_position(msg: &str) -> &str {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(i) = msg.rfind(" at line ")
        && let Some((line, column)) = msg[i + " at line ".len()..].split_once(" column ")
        && digits(line)
        && digits(column)
    {
        return &msg[..i];
    }
    msg
}

#[cfg(test)]
mod tests {
    use serde::Deserialize as _;

    use super::*;

    fn decode(text: &str) -> Result<(), String> {
        parse(text.as_bytes(), |de, _| {
            de::IgnoredAny::deserialize(de).map(|_| ())
        })
    }

    #[test]
    fn files_decode_to_their_depth_bound_and_no_deeper() {
        let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(decode(&nested(MAX_FILE_DEPTH)), Ok(()));
        let err = decode(&nested(MAX_FILE_DEPTH + 1)).unwrap_err();
        assert_eq!(err, "nested 145 levels deep, more than the 144 allowed");
        // A hostile file far deeper is measured, not recursed into.
        assert_eq!(
            decode(&nested(1_000_000)).unwrap_err(),
            "nested 1000000 levels deep, more than the 144 allowed"
        );
        // Brackets inside strings (escaped quotes too) are not nesting.
        let text = format!(r#"{{"a": "\"[[[[", "b": {}}}"#, nested(130));
        assert_eq!(clerk_rules::nesting::depth(text.as_bytes()), 131);
        assert_eq!(decode(&text), Ok(()));
        assert!(decode("{").is_err());
        assert!(decode("{} {}").is_err(), "trailing data is refused");
    }

    #[test]
    fn the_depth_is_measured_across_reads() {
        // One byte per read: the string and escape state carries over.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let Some((&b, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = b;
                self.0 = rest;
                Ok(1)
            }
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let text = format!(r#"{{"s": "\\\"{deep}", "t": [[{{}}]]}}"#);
        let r = parse(Trickle(text.as_bytes()), |de, _| {
            de::IgnoredAny::deserialize(de).map(|_| ())
        });
        assert_eq!(r, Ok(()));
    }

    #[test]
    fn positions_are_cut_from_wrapped_messages_only() {
        assert_eq!(
            without_position("invalid type: null, expected a string at line 3 column 17"),
            "invalid type: null, expected a string"
        );
        assert_eq!(without_position("no position here"), "no position here");
        assert_eq!(
            without_position("a name at line one column 2"),
            "a name at line one column 2"
        );
    }
}
