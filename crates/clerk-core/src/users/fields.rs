//! The JSON type of each field of a request body, as the spec declares it, so that callers
//! that handle bodies as JSON (an importer checking a file) need no list of their own.

/// The JSON type of a request-body field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldKind {
    /// A string (`null` allowed where the spec says `nullable`).
    String,
    /// An array of strings.
    StringList,
    /// A boolean.
    Bool,
    /// An integer.
    Integer,
    /// A free-form JSON object (metadata).
    Object,
}

/// The names of a `(name, kind)` table, in order, for the `FIELDS` constants.
pub(crate) const fn names<const N: usize>(
    table: &[(&'static str, FieldKind); N],
) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = table[i].0;
        i += 1;
    }
    out
}
