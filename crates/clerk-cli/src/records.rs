// Over 600 lines only with its unit tests (the code is ~640): one streaming reader per
// input format, each able to read one record again from its offset.
//! Reading an import file one record at a time: JSON Lines, a JSON array or CSV,
//! each record with the byte offset and line it starts on, so memory does not grow
//! with the file and any record can be read again from its offset (the exact check
//! of a duplicate, a second pass that sends). One record is held at a time, at most
//! [`MAX_RECORD_BYTES`] of it.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde_json::{Map, Value};

use crate::input::{Format, ReadProblem, as_object, csv_row, looks_like_migration_tool};

/// The longest record read: a Clerk create body is a few KiB (metadata is capped at
/// 8 KiB per object), so anything longer is not a record.
pub(crate) const MAX_RECORD_BYTES: usize = 1 << 20;

/// Bytes looked at to detect the format.
const PREFIX: usize = 64 * 1024;

/// One record as read, before validation.
#[derive(Debug)]
pub(crate) struct RawRecord {
    /// Byte offset in the file where it starts.
    pub(crate) offset: u64,
    /// 1-based line it starts on.
    pub(crate) line: usize,
    /// The create body (migration-tool users already converted), or why it could not be read.
    pub(crate) body: Result<Map<String, Value>, Vec<ReadProblem>>,
}

/// How records are laid out in a file: what a second pass or a re-read needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The format reported (detected or asked for).
    pub(crate) format: Format,
    kind: Kind,
    /// Whether records are migration-tool users (`None`: decided by the first record).
    migration: Option<bool>,
}

impl Default for Layout {
    fn default() -> Self {
        Self {
            format: Format::Jsonl,
            kind: Kind::Lines,
            migration: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Lines,
    Array,
    Csv {
        headers: Vec<String>,
        migration_fields: bool,
    },
}

fn strip_bom(bytes: &[u8]) -> (&[u8], u64) {
    match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (rest, 3),
        None => (bytes, 0),
    }
}

fn first_non_ws(bytes: &[u8]) -> Option<u8> {
    strip_bom(bytes)
        .0
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace())
}

/// The layout of a file starting with `prefix`, read as `format` (`Auto` detects).
fn layout_of(prefix: &[u8], format: Format, csv_name: bool) -> Layout {
    let first = first_non_ws(prefix);
    let format = match format {
        Format::Auto => match first {
            Some(b'[') => Format::Json,
            Some(b'{') | None => Format::Jsonl,
            Some(_) => Format::Csv,
        },
        other => other,
    };
    let csv = Kind::Csv {
        headers: Vec::new(),
        migration_fields: format == Format::MigrationTool,
    };
    let (kind, migration) = match format {
        Format::Csv => (csv, None),
        Format::Json => (Kind::Array, None),
        Format::Jsonl | Format::Auto => (Kind::Lines, None),
        Format::MigrationTool => {
            let kind = if csv_name || !matches!(first, Some(b'[' | b'{')) {
                csv
            } else if first == Some(b'[') {
                Kind::Array
            } else {
                Kind::Lines
            };
            (kind, Some(true))
        }
    };
    Layout {
        format,
        kind,
        migration,
    }
}

/// Records of one file (or buffer), in order.
pub(crate) struct Records<R: BufRead> {
    source: Source<R>,
    layout: Layout,
    /// Record bytes (a line, an array element), reused.
    scratch: Vec<u8>,
    /// Problems found after the record last returned, reported next.
    pending: std::collections::VecDeque<RawRecord>,
    done: bool,
}

enum Source<R: BufRead> {
    Lines(Bytes<R>),
    Array { bytes: Bytes<R>, state: ArrayState },
    Csv(Box<CsvSource<R>>),
}

struct CsvSource<R: BufRead> {
    reader: csv::Reader<R>,
    row: csv::StringRecord,
    /// Added to the reader's positions (a BOM, a re-read from an offset).
    base_offset: u64,
    base_line: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ArrayState {
    /// Before the `[`.
    Start,
    /// At an element (after `[` or `,`).
    Element,
    /// Just after `[`: an element or `]`.
    First,
}

/// A byte reader that knows its offset and line.
struct Bytes<R: BufRead> {
    inner: R,
    offset: u64,
    line: usize,
}

impl<R: BufRead> Bytes<R> {
    fn peek(&mut self) -> io::Result<Option<u8>> {
        Ok(self.inner.fill_buf()?.first().copied())
    }

    fn bump(&mut self) -> io::Result<Option<u8>> {
        let byte = self.peek()?;
        if let Some(b) = byte {
            self.inner.consume(1);
            self.offset += 1;
            if b == b'\n' {
                self.line += 1;
            }
        }
        Ok(byte)
    }

    fn skip_ws(&mut self) -> io::Result<()> {
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(());
            }
            let n = buf
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(buf.len());
            self.line += buf[..n].iter().filter(|b| **b == b'\n').count();
            self.offset += n as u64;
            let all = n == buf.len();
            self.inner.consume(n);
            if !all {
                return Ok(());
            }
        }
    }

    /// Reads up to and including the next `\n` into `out`, keeping at most `cap`
    /// bytes; returns the bytes consumed and whether the line was longer than `cap`.
    fn line_into(&mut self, out: &mut Vec<u8>, cap: usize) -> io::Result<(usize, bool)> {
        out.clear();
        let (mut consumed, mut long) = (0, false);
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let (n, end) = match buf.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            let room = cap.saturating_sub(out.len());
            if n > room {
                long = true;
            }
            out.extend_from_slice(&buf[..n.min(room)]);
            self.inner.consume(n);
            consumed += n;
            self.offset += n as u64;
            if end {
                self.line += 1;
                break;
            }
        }
        Ok((consumed, long))
    }
}

impl Records<BufReader<File>> {
    /// Opens `path` read as `format` (`Auto` detects it from the name and the content).
    pub(crate) fn open(path: &Path, format: Format) -> io::Result<Self> {
        let mut file = File::open(path)?;
        let mut prefix = Vec::with_capacity(PREFIX);
        (&mut file).take(PREFIX as u64).read_to_end(&mut prefix)?;
        file.seek(SeekFrom::Start(0))?;
        let named = format_named(path, &prefix);
        let format = match format {
            Format::Auto => named.unwrap_or(Format::Auto),
            asked => asked,
        };
        let layout = layout_of(&prefix, format, named == Some(Format::Csv));
        Self::new(BufReader::with_capacity(PREFIX, file), layout)
    }

    /// Reads the file again from the start with the layout a first pass found.
    pub(crate) fn reopen(path: &Path, layout: &Layout) -> io::Result<Self> {
        Self::new(
            BufReader::with_capacity(PREFIX, File::open(path)?),
            layout.clone(),
        )
    }
}

/// The format a file's name gives, when it gives one: the name decides before the content,
/// so a `users.jsonl` whose first line is garbage reports that line instead of being read as
/// a CSV header with no rows (0 records, exit 0). `.json` holds an array, or JSON Lines when
/// it starts with `{`.
fn format_named(path: &Path, prefix: &[u8]) -> Option<Format> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "jsonl" | "ndjson" => Some(Format::Jsonl),
        "json" if first_non_ws(prefix) == Some(b'{') => Some(Format::Jsonl),
        "json" => Some(Format::Json),
        "csv" => Some(Format::Csv),
        _ => None,
    }
}

#[cfg(test)]
impl<'a> Records<io::Cursor<&'a [u8]>> {
    /// Records of an in-memory input; `csv_name` tells detection it is called `*.csv`.
    pub(crate) fn from_bytes(bytes: &'a [u8], format: Format, csv_name: bool) -> Self {
        let layout = layout_of(&bytes[..bytes.len().min(PREFIX)], format, csv_name);
        // Reading from memory cannot fail.
        match Self::new(io::Cursor::new(bytes), layout.clone()) {
            Ok(records) => records,
            Err(_) => Self {
                source: Source::Lines(Bytes {
                    inner: io::Cursor::new(&[][..]),
                    offset: 0,
                    line: 1,
                }),
                layout,
                scratch: Vec::new(),
                pending: Default::default(),
                done: true,
            },
        }
    }
}

impl<R: BufRead> Records<R> {
    fn new(mut inner: R, mut layout: Layout) -> io::Result<Self> {
        let bom = if inner.fill_buf()?.starts_with(b"\xEF\xBB\xBF") {
            inner.consume(3);
            3
        } else {
            0
        };
        let bytes = |inner| Bytes {
            inner,
            offset: bom,
            line: 1,
        };
        let mut pending = Vec::new();
        let source = match &mut layout.kind {
            Kind::Lines => Source::Lines(bytes(inner)),
            Kind::Array => Source::Array {
                bytes: bytes(inner),
                state: ArrayState::Start,
            },
            Kind::Csv {
                headers,
                migration_fields,
            } => {
                let mut reader = csv::ReaderBuilder::new()
                    .flexible(false)
                    .trim(csv::Trim::Headers)
                    .from_reader(inner);
                match reader.headers() {
                    Ok(h) => {
                        *headers = h.iter().map(str::to_owned).collect();
                        *migration_fields |= headers.iter().any(|h| {
                            matches!(h.as_str(), "userId" | "firstName" | "passwordHasher")
                        });
                    }
                    Err(err) => pending.push(ReadProblem {
                        line: 1,
                        field: None,
                        message: format!("invalid CSV header: {err}"),
                    }),
                }
                Source::Csv(Box::new(CsvSource {
                    reader,
                    row: csv::StringRecord::new(),
                    base_offset: bom,
                    base_line: 0,
                }))
            }
        };
        let done = !pending.is_empty();
        Ok(Self {
            source,
            layout,
            scratch: Vec::new(),
            pending: pending
                .into_iter()
                .map(|p| RawRecord {
                    offset: 0,
                    line: p.line,
                    body: Err(vec![p]),
                })
                .collect(),
            done,
        })
    }

    /// The layout found (the CSV header, whether records are migration-tool users).
    pub(crate) fn layout(&self) -> &Layout {
        &self.layout
    }

    fn finish_body(&mut self, body: Map<String, Value>) -> Map<String, Value> {
        let migration = *self
            .layout
            .migration
            .get_or_insert_with(|| looks_like_migration_tool(&body));
        if migration {
            self.layout.format = Format::MigrationTool;
            crate::migration_tool::to_clerk(body)
        } else {
            body
        }
    }

    fn next_line(&mut self) -> io::Result<Option<RawRecord>> {
        let Source::Lines(bytes) = &mut self.source else {
            return Ok(None);
        };
        loop {
            let (offset, line) = (bytes.offset, bytes.line);
            let (consumed, long) = bytes.line_into(&mut self.scratch, MAX_RECORD_BYTES)?;
            if consumed == 0 {
                return Ok(None);
            }
            if long {
                return Ok(Some(RawRecord {
                    offset,
                    line,
                    body: Err(vec![too_long(line)]),
                }));
            }
            let text = self.scratch.strip_suffix(b"\n").unwrap_or(&self.scratch);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let body = match serde_json::from_slice::<Value>(text) {
                Ok(value) => as_object(value, line),
                Err(err) => Err(ReadProblem {
                    line,
                    field: None,
                    message: format!(
                        "invalid JSON at column {}: {}",
                        err.column(),
                        strip_position(&err)
                    ),
                }),
            };
            let body = body.map(|b| self.finish_body(b)).map_err(|p| vec![p]);
            return Ok(Some(RawRecord { offset, line, body }));
        }
    }

    fn next_element(&mut self) -> io::Result<Option<RawRecord>> {
        let Source::Array { bytes, state } = &mut self.source else {
            return Ok(None);
        };
        let problem = |line, message: &str| ReadProblem {
            line,
            field: None,
            message: message.to_owned(),
        };
        // Ends the array: nothing after a broken element can be located reliably.
        let stop = |records: &mut Self, offset, line, p: ReadProblem| {
            records.done = true;
            Ok(Some(RawRecord {
                offset,
                line,
                body: Err(vec![p]),
            }))
        };
        if *state == ArrayState::Start {
            bytes.skip_ws()?;
            if bytes.peek()? != Some(b'[') {
                let (offset, line) = (bytes.offset, bytes.line);
                let p = problem(line, "expected a JSON array of user objects");
                return stop(self, offset, line, p);
            }
            bytes.bump()?;
            *state = ArrayState::First;
        }
        bytes.skip_ws()?;
        let (offset, line) = (bytes.offset, bytes.line);
        match bytes.peek()? {
            None => {
                let p = problem(line, "the JSON array is not closed (missing `]`)");
                return stop(self, offset, line, p);
            }
            Some(b']') if *state == ArrayState::First => {
                bytes.bump()?;
                return self.trailing();
            }
            Some(_) => {}
        }
        let long = scan_value(bytes, &mut self.scratch)?;
        if long {
            return stop(self, offset, line, too_long(line));
        }
        let body = match serde_json::from_slice::<Value>(&self.scratch) {
            Ok(value) => as_object(value, line),
            Err(err) => {
                let p = ReadProblem {
                    line: line + err.line().saturating_sub(1),
                    field: None,
                    message: format!("invalid JSON: {}", strip_position(&err)),
                };
                return stop(self, offset, line, p);
            }
        };
        bytes.skip_ws()?;
        match bytes.peek()? {
            Some(b',') => {
                bytes.bump()?;
                *state = ArrayState::Element;
            }
            Some(b']') => {
                bytes.bump()?;
                *state = ArrayState::Start;
                self.done = true;
            }
            _ => {
                let at = bytes.line;
                let after = problem(at, "expected `,` or `]` after an array element");
                self.done = true;
                let body = body.map(|b| self.finish_body(b));
                return Ok(Some(match body {
                    Ok(b) => {
                        self.stash(after);
                        RawRecord {
                            offset,
                            line,
                            body: Ok(b),
                        }
                    }
                    Err(p) => RawRecord {
                        offset,
                        line,
                        body: Err(vec![p, after]),
                    },
                }));
            }
        }
        let body = body.map(|b| self.finish_body(b)).map_err(|p| vec![p]);
        let record = RawRecord { offset, line, body };
        if self.done {
            // The `]` was read: what follows it must be whitespace.
            if let Some(trailing) = self.trailing()? {
                self.pending.push_back(trailing);
            }
        }
        Ok(Some(record))
    }

    /// After the closing `]`: anything but whitespace is a problem.
    fn trailing(&mut self) -> io::Result<Option<RawRecord>> {
        self.done = true;
        let Source::Array { bytes, .. } = &mut self.source else {
            return Ok(None);
        };
        bytes.skip_ws()?;
        if bytes.peek()?.is_some() {
            let (offset, line) = (bytes.offset, bytes.line);
            return Ok(Some(RawRecord {
                offset,
                line,
                body: Err(vec![ReadProblem {
                    line,
                    field: None,
                    message: "unexpected content after the JSON array".into(),
                }]),
            }));
        }
        Ok(None)
    }

    /// A problem found after the record just returned, reported as the next "record".
    fn stash(&mut self, problem: ReadProblem) {
        self.pending.push_back(RawRecord {
            offset: 0,
            line: problem.line,
            body: Err(vec![problem]),
        });
    }

    fn next_row(&mut self) -> io::Result<Option<RawRecord>> {
        let Source::Csv(csv) = &mut self.source else {
            return Ok(None);
        };
        let Kind::Csv {
            headers,
            migration_fields,
        } = &self.layout.kind
        else {
            return Ok(None);
        };
        let more = match csv.reader.read_record(&mut csv.row) {
            Ok(more) => more,
            Err(err) => {
                if let csv::ErrorKind::Io(_) = err.kind() {
                    return Err(io::Error::other(err.to_string()));
                }
                let position = err.position().cloned().unwrap_or_else(csv::Position::new);
                let line = csv.base_line + position.line() as usize;
                return Ok(Some(RawRecord {
                    offset: csv.base_offset + position.byte(),
                    line,
                    body: Err(vec![ReadProblem {
                        line,
                        field: None,
                        message: format!("invalid CSV row: {err}"),
                    }]),
                }));
            }
        };
        if !more {
            return Ok(None);
        }
        let position = csv
            .row
            .position()
            .cloned()
            .unwrap_or_else(csv::Position::new);
        let line = csv.base_line + position.line() as usize;
        let offset = csv.base_offset + position.byte();
        let body = csv_row(headers, &csv.row, *migration_fields, line);
        let body = body.map(|b| self.finish_body(b));
        Ok(Some(RawRecord { offset, line, body }))
    }
}

impl<R: BufRead> Iterator for Records<R> {
    type Item = io::Result<RawRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(record) = self.pending.pop_front() {
            return Some(Ok(record));
        }
        if self.done {
            return None;
        }
        let next = match &self.source {
            Source::Lines(_) => self.next_line(),
            Source::Array { .. } => self.next_element(),
            Source::Csv(_) => self.next_row(),
        };
        match next {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => {
                self.done = true;
                self.pending.pop_front().map(Ok)
            }
            Err(err) => {
                self.done = true;
                Some(Err(err))
            }
        }
    }
}

impl Records<BufReader<File>> {
    /// The one record that starts at `offset` (on `line`) of `path`, read with the
    /// layout of a first pass over it.
    pub(crate) fn at(
        file: &File,
        layout: &Layout,
        offset: u64,
        line: usize,
    ) -> io::Result<Option<RawRecord>> {
        let mut file = file.try_clone()?;
        file.seek(SeekFrom::Start(offset))?;
        let inner = BufReader::with_capacity(8 * 1024, file);
        let bytes = |inner| Bytes {
            inner,
            offset,
            line,
        };
        let source = match &layout.kind {
            Kind::Lines => Source::Lines(bytes(inner)),
            Kind::Array => Source::Array {
                bytes: bytes(inner),
                state: ArrayState::Element,
            },
            Kind::Csv { .. } => Source::Csv(Box::new(CsvSource {
                reader: csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(inner),
                row: csv::StringRecord::new(),
                base_offset: offset,
                base_line: line.saturating_sub(1),
            })),
        };
        let mut records = Self {
            source,
            layout: layout.clone(),
            scratch: Vec::new(),
            pending: Default::default(),
            done: false,
        };
        records.next().transpose()
    }
}

fn too_long(line: usize) -> ReadProblem {
    ReadProblem {
        line,
        field: None,
        message: format!(
            "record longer than {} MiB: not a Clerk user",
            MAX_RECORD_BYTES >> 20
        ),
    }
}

pub(crate) fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.find(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

/// Copies the JSON value at the reader's position into `out` (its extent only:
/// brackets and strings are matched, the value itself is parsed by serde_json);
/// `true` when it is longer than [`MAX_RECORD_BYTES`].
fn scan_value<R: BufRead>(bytes: &mut Bytes<R>, out: &mut Vec<u8>) -> io::Result<bool> {
    out.clear();
    let Some(first) = bytes.peek()? else {
        return Ok(false);
    };
    let push = |out: &mut Vec<u8>, b: u8| {
        out.push(b);
        out.len() > MAX_RECORD_BYTES
    };
    match first {
        b'{' | b'[' | b'"' => {
            let (mut depth, mut in_string, mut escape) = (0usize, false, false);
            while let Some(b) = bytes.bump()? {
                if push(out, b) {
                    return Ok(true);
                }
                if in_string {
                    if escape {
                        escape = false;
                    } else if b == b'\\' {
                        escape = true;
                    } else if b == b'"' {
                        in_string = false;
                        if depth == 0 {
                            break;
                        }
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {
            while let Some(b) = bytes.peek()? {
                if b == b',' || b == b']' || b.is_ascii_whitespace() {
                    break;
                }
                bytes.bump()?;
                if push(out, b) {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &[u8], format: Format) -> Vec<RawRecord> {
        Records::from_bytes(text, format, false)
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn a_named_file_is_read_as_its_name_says_whatever_its_first_line() {
        let dir = std::env::temp_dir().join(format!("clerk-cli-named-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, format) in [
            ("users.jsonl", Format::Jsonl),
            ("users.NDJSON", Format::Jsonl),
            ("users.json", Format::Json),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, "a\n{\"external_id\":\"x\"}\n").unwrap();
            let records = Records::open(&path, Format::Auto).unwrap();
            assert_eq!(records.layout().format, format, "{name}");
            let read: Vec<RawRecord> = records.map(Result::unwrap).collect();
            assert!(
                read.first().is_some_and(|r| r.line == 1 && r.body.is_err()),
                "{name}: the garbage first line is a problem on line 1, not a CSV header: {read:?}"
            );
        }
        let path = dir.join("users.json");
        std::fs::write(&path, "{\"external_id\":\"x\"}\n").unwrap();
        let records = Records::open(&path, Format::Auto).unwrap();
        assert_eq!(
            records.layout().format,
            Format::Jsonl,
            "JSON Lines named .json"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn every_record_can_be_read_again_from_its_offset() {
        let dir = std::env::temp_dir().join(format!("clerk-cli-records-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text, format) in [
            (
                "a.jsonl",
                "\u{feff}{\"external_id\":\"a\"}\n\n{\"external_id\":\"b\",\"x\":\"}\\\"{\"}\r\n",
                Format::Auto,
            ),
            (
                "a.json",
                "[\n {\"external_id\": \"a\", \"l\": [1, {\"]\": \"[\"}]},\n  {\"external_id\":\n \"b\"}\n]\n",
                Format::Auto,
            ),
            (
                "a.csv",
                "external_id,first_name\na,\"multi\nline\"\nb,Bob\n",
                Format::Auto,
            ),
            (
                "mt.json",
                "[{\"userId\": \"a\", \"email\": \"a@x.io\"}, {\"userId\": \"b\"}]",
                Format::Auto,
            ),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            let mut records = Records::open(&path, format).unwrap();
            let first: Vec<RawRecord> = records.by_ref().map(Result::unwrap).collect();
            let layout = records.layout().clone();
            assert_eq!(first.len(), 2, "{name}: {first:?}");
            let file = File::open(&path).unwrap();
            for record in &first {
                let again = Records::at(&file, &layout, record.offset, record.line)
                    .unwrap()
                    .unwrap();
                assert_eq!(again.line, record.line, "{name}");
                assert_eq!(again.body, record.body, "{name}");
                assert!(record.body.is_ok(), "{name}: {record:?}");
            }
            let second: Vec<RawRecord> = Records::reopen(&path, &layout)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert_eq!(
                second
                    .iter()
                    .map(|r| (r.offset, r.line))
                    .collect::<Vec<_>>(),
                first.iter().map(|r| (r.offset, r.line)).collect::<Vec<_>>(),
                "{name}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn records_longer_than_the_cap_are_problems_and_the_next_line_still_reads() {
        let long = format!(
            "{{\"first_name\":\"{}\"}}\n{{\"external_id\":\"ok\"}}\n",
            "x".repeat(MAX_RECORD_BYTES)
        );
        let records = read_all(long.as_bytes(), Format::Jsonl);
        assert_eq!(records.len(), 2);
        let problem = &records[0].body.as_ref().unwrap_err()[0];
        assert!(problem.message.contains("longer than 1 MiB"), "{problem}");
        assert_eq!(records[1].line, 2);
        assert!(records[1].body.is_ok());
        let array = format!("[{}]", long.lines().next().unwrap());
        let records = read_all(array.as_bytes(), Format::Json);
        assert_eq!(records.len(), 1);
        assert!(records[0].body.is_err());
    }
}
