// Over 600 lines only with its unit tests (the code is ~530): one reader per input format.
//! Import input: JSON Lines, JSON arrays and CSV of Clerk create bodies, and Clerk
//! migration-tool's user format, each record tagged with the line it starts on.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use clerk_core::users::{CreateUser, FieldKind};
use serde_json::{Map, Value};

/// One input record: a Clerk `CreateUser` body (snake_case fields), not yet validated.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Record {
    /// Position in the input, from 0; the checkpoint journal is keyed by it.
    pub(crate) index: usize,
    /// 1-based line on which the record starts.
    pub(crate) line: usize,
    /// The create body.
    pub(crate) body: Body,
}

pub(crate) use clerk_migrate::record::Body;

/// A record that could not even be read (not JSON, not an object, bad CSV row).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ReadProblem {
    /// 1-based line.
    pub(crate) line: usize,
    /// Field concerned, when known.
    pub(crate) field: Option<String>,
    /// What is wrong.
    pub(crate) message: String,
}

impl fmt::Display for ReadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {}: field `{field}`: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// The records read, and the problems of the ones that could not be read.
#[derive(Debug, Default)]
pub(crate) struct Input {
    pub(crate) records: Vec<Record>,
    pub(crate) problems: Vec<ReadProblem>,
    /// The format used (detected or asked for).
    pub(crate) format: Option<Format>,
}

/// Input formats of `import --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Detect from the extension and the content.
    Auto,
    /// One Clerk create body per line.
    Jsonl,
    /// A JSON array of Clerk create bodies.
    Json,
    /// CSV with a header row of Clerk field names (or migration-tool field names).
    Csv,
    /// Clerk migration-tool users (`userId`, `email`, `firstName`, `passwordHasher`, …),
    /// as a JSON array, JSON Lines or CSV.
    MigrationTool,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Jsonl => "jsonl",
            Self::Json => "json",
            Self::Csv => "csv",
            Self::MigrationTool => "migration-tool",
        })
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <Self as clap::ValueEnum>::from_str(s, true)
    }
}

/// The JSON type of a field of Clerk's `CreateUser` body (`None`: not one of its fields).
/// The table is clerk-core's, checked against the spec there.
pub(crate) fn field_kind(field: &str) -> Option<FieldKind> {
    CreateUser::FIELD_KINDS
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, kind)| *kind)
}

/// Reads `path` in `format` (`Auto` detects it).
pub(crate) fn read_file(path: &Path, format: Format) -> std::io::Result<Input> {
    let bytes = std::fs::read(path)?;
    let is_csv_name = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    Ok(parse(&bytes, format, is_csv_name))
}

/// Parses input bytes; `csv_name` tells detection the file is called `*.csv`.
pub(crate) fn parse(bytes: &[u8], format: Format, csv_name: bool) -> Input {
    let format = match format {
        Format::Auto => detect(bytes, csv_name),
        other => other,
    };
    let mut input = match format {
        Format::Csv => read_csv(bytes, false),
        Format::Json => read_json_array(bytes),
        Format::Jsonl | Format::Auto => read_json_lines(bytes),
        Format::MigrationTool => {
            if csv_name || (!starts_with_json(bytes)) {
                read_csv(bytes, true)
            } else if first_non_ws(bytes) == Some(b'[') {
                read_json_array(bytes)
            } else {
                read_json_lines(bytes)
            }
        }
    };
    let migration = format == Format::MigrationTool
        || input
            .records
            .first()
            .is_some_and(|r| looks_like_migration_tool(&r.body.to_map()));
    if migration {
        convert_migration_tool(&mut input);
        input.format = Some(Format::MigrationTool);
    } else {
        input.format = Some(format);
    }
    input
}

fn first_non_ws(bytes: &[u8]) -> Option<u8> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes.iter().copied().find(|b| !b.is_ascii_whitespace())
}

fn starts_with_json(bytes: &[u8]) -> bool {
    matches!(first_non_ws(bytes), Some(b'[' | b'{'))
}

fn detect(bytes: &[u8], csv_name: bool) -> Format {
    match first_non_ws(bytes) {
        Some(b'[') => Format::Json,
        Some(b'{') => Format::Jsonl,
        _ if csv_name => Format::Csv,
        Some(_) => Format::Csv,
        None => Format::Jsonl,
    }
}

/// Line numbers of byte offsets that only move forward: each byte is counted once,
/// so locating every element of a large array stays linear.
struct Lines<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: usize,
    /// Bytes looked at so far (never more than the input's length).
    scanned: usize,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            offset: 0,
            line: 1,
            scanned: 0,
        }
    }

    /// The 1-based line of `offset` (at or after the previous one asked).
    fn at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.bytes.len());
        if offset > self.offset {
            self.line += self.bytes[self.offset..offset]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.scanned += offset - self.offset;
            self.offset = offset;
        }
        self.line
    }
}

fn as_object(
    value: Value,
    line: usize,
    problems: &mut Vec<ReadProblem>,
) -> Option<Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        other => {
            problems.push(ReadProblem {
                line,
                field: None,
                message: format!("expected a JSON object, found {}", kind(&other)),
            });
            None
        }
    }
}

pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn read_json_lines(bytes: &[u8]) -> Input {
    let mut input = Input::default();
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = i + 1;
        let text = raw.strip_suffix(b"\r").unwrap_or(raw);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Value>(text) {
            Ok(value) => {
                if let Some(body) = as_object(value, line, &mut input.problems) {
                    let index = input.records.len() + input.problems.len();
                    input.records.push(Record {
                        index,
                        line,
                        body: Body::from_map(body),
                    });
                }
            }
            Err(err) => input.problems.push(ReadProblem {
                line,
                field: None,
                message: format!(
                    "invalid JSON at column {}: {}",
                    err.column(),
                    strip_position(&err)
                ),
            }),
        }
    }
    reindex(&mut input);
    input
}

/// Record indexes count only records that were read; problems do not take an index,
/// so fixing a broken line does not shift the journal keys of the records after it
/// (the key check catches any other shift).
fn reindex(input: &mut Input) {
    for (i, record) in input.records.iter_mut().enumerate() {
        record.index = i;
    }
}

fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.find(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

fn read_json_array(bytes: &[u8]) -> Input {
    let mut input = Input::default();
    let mut lines = Lines::new(bytes);
    let bom = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let skip_ws = |mut at: usize| {
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        at
    };
    let mut at = skip_ws(bom);
    if bytes.get(at) != Some(&b'[') {
        input.problems.push(ReadProblem {
            line: lines.at(at),
            field: None,
            message: "expected a JSON array of user objects".into(),
        });
        return input;
    }
    at = skip_ws(at + 1);
    let trailing = |at: usize, input: &mut Input, lines: &mut Lines<'_>| {
        let rest = skip_ws(at + 1);
        if rest < bytes.len() {
            input.problems.push(ReadProblem {
                line: lines.at(rest),
                field: None,
                message: "unexpected content after the JSON array".into(),
            });
        }
    };
    if bytes.get(at) == Some(&b']') {
        trailing(at, &mut input, &mut lines);
        return input;
    }
    loop {
        let line = lines.at(at);
        let mut stream = serde_json::Deserializer::from_slice(&bytes[at..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(value)) => {
                at += stream.byte_offset();
                if let Some(body) = as_object(value, line, &mut input.problems) {
                    input.records.push(Record {
                        index: 0,
                        line,
                        body: Body::from_map(body),
                    });
                }
            }
            Some(Err(err)) => {
                // A broken element ends the array: nothing after it can be located reliably.
                input.problems.push(ReadProblem {
                    line: line + err.line().saturating_sub(1),
                    field: None,
                    message: format!("invalid JSON: {}", strip_position(&err)),
                });
                break;
            }
            None => {
                input.problems.push(ReadProblem {
                    line,
                    field: None,
                    message: "the JSON array is not closed (missing `]`)".into(),
                });
                break;
            }
        }
        at = skip_ws(at);
        match bytes.get(at) {
            Some(b',') => at = skip_ws(at + 1),
            Some(b']') => {
                trailing(at, &mut input, &mut lines);
                break;
            }
            _ => {
                input.problems.push(ReadProblem {
                    line: lines.at(at),
                    field: None,
                    message: "expected `,` or `]` after an array element".into(),
                });
                break;
            }
        }
    }
    reindex(&mut input);
    input
}

pub(crate) fn split_list(cell: &str) -> Vec<Value> {
    cell.split([',', ';', '|'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Value::String(s.to_owned()))
        .collect()
}

/// Migration-tool fields that can hold several values in one CSV cell.
const MT_LIST_FIELDS: &[&str] = &[
    "email",
    "emailAddresses",
    "unverifiedEmailAddresses",
    "phone",
    "phoneNumbers",
    "unverifiedPhoneNumbers",
    "backupCodes",
];

fn csv_cell(header: &str, cell: &str, migration: bool) -> Result<Option<Value>, String> {
    if cell.trim().is_empty() {
        return Ok(None);
    }
    let field = header.trim();
    let kind = field_kind(field);
    let value = if (!migration && kind == Some(FieldKind::StringList))
        || (migration && MT_LIST_FIELDS.contains(&field))
    {
        Value::Array(split_list(cell))
    } else if kind == Some(FieldKind::Bool)
        || (migration
            && matches!(
                field,
                "bypassClientTrust"
                    | "createOrganizationEnabled"
                    | "deleteSelfEnabled"
                    | "skipLegalChecks"
                    | "skipPasswordChecks"
                    | "backupCodesEnabled"
                    | "banned"
                    | "locked"
            ))
    {
        match cell.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" | "yes" => Value::Bool(true),
            "false" | "f" | "0" | "no" => Value::Bool(false),
            other => return Err(format!("expected true or false, found {other:?}")),
        }
    } else if kind == Some(FieldKind::Integer) || (migration && field == "createOrganizationsLimit")
    {
        let n: i64 = cell
            .trim()
            .parse()
            .map_err(|_| format!("expected an integer, found {:?}", cell.trim()))?;
        Value::from(n)
    } else if kind == Some(FieldKind::Object)
        || (migration
            && matches!(
                field,
                "publicMetadata" | "privateMetadata" | "unsafeMetadata"
            ))
    {
        serde_json::from_str::<Value>(cell)
            .map_err(|e| format!("expected a JSON object: {}", strip_position(&e)))?
    } else {
        Value::String(cell.to_owned())
    };
    Ok(Some(value))
}

fn read_csv(bytes: &[u8], migration_hint: bool) -> Input {
    let mut input = Input::default();
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::Headers)
        .from_reader(bytes);
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(err) => {
            input.problems.push(ReadProblem {
                line: 1,
                field: None,
                message: format!("invalid CSV header: {err}"),
            });
            return input;
        }
    };
    let migration = migration_hint
        || headers
            .iter()
            .any(|h| matches!(h, "userId" | "firstName" | "passwordHasher"));
    for row in reader.records() {
        let row = match row {
            Ok(row) => row,
            Err(err) => {
                let line = err.position().map_or(0, |p| p.line() as usize);
                input.problems.push(ReadProblem {
                    line,
                    field: None,
                    message: format!("invalid CSV row: {err}"),
                });
                continue;
            }
        };
        let line = row.position().map_or(0, |p| p.line() as usize);
        let mut body = Map::new();
        let mut bad = false;
        for (header, cell) in headers.iter().zip(row.iter()) {
            match csv_cell(header, cell, migration) {
                Ok(Some(value)) => {
                    body.insert(header.to_owned(), value);
                }
                Ok(None) => {}
                Err(message) => {
                    bad = true;
                    input.problems.push(ReadProblem {
                        line,
                        field: Some(header.to_owned()),
                        message,
                    });
                }
            }
        }
        if !bad {
            input.records.push(Record {
                index: 0,
                line,
                body: Body::from_map(body),
            });
        }
    }
    reindex(&mut input);
    input
}

fn looks_like_migration_tool(body: &Map<String, Value>) -> bool {
    body.contains_key("userId")
        || (body.contains_key("email") && !body.contains_key("email_address"))
        || body.contains_key("firstName")
        || body.contains_key("passwordHasher")
}

/// Converts migration-tool users into Clerk create bodies. Unknown migration-tool
/// fields are kept under their own names, so validation reports them.
fn convert_migration_tool(input: &mut Input) {
    for record in &mut input.records {
        record.body = Body::from_map(crate::migration_tool::to_clerk(record.body.to_map()));
    }
}

pub(crate) fn strings(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        Value::String(s) => split_list(&s),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn json_lines_keep_line_numbers_and_skip_blank_lines() {
        let text =
            b"{\"email_address\":[\"a@x.com\"]}\n\n{\"external_id\":\"2\"}\r\nnot json\n[1]\n";
        let input = parse(text, Format::Auto, false);
        assert_eq!(input.format, Some(Format::Jsonl));
        assert_eq!(input.records.len(), 2);
        assert_eq!((input.records[0].index, input.records[0].line), (0, 1));
        assert_eq!((input.records[1].index, input.records[1].line), (1, 3));
        assert_eq!(input.problems.len(), 2);
        assert_eq!(input.problems[0].line, 4);
        assert!(
            input.problems[0].message.contains("invalid JSON"),
            "{}",
            input.problems[0]
        );
        assert_eq!(input.problems[1].line, 5);
        assert!(input.problems[1].message.contains("expected a JSON object"));
    }

    #[test]
    fn json_array_elements_get_the_line_they_start_on() {
        let text =
            b"[\n  {\"external_id\": \"a\"},\n  {\n    \"external_id\": \"b\"\n  },\n  7\n]\n";
        let input = parse(text, Format::Auto, false);
        assert_eq!(input.format, Some(Format::Json));
        let lines: Vec<usize> = input.records.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3]);
        assert_eq!(input.problems.len(), 1);
        assert_eq!(input.problems[0].line, 6);
    }

    #[test]
    fn locating_every_element_of_an_array_reads_each_byte_once() {
        let elements: Vec<String> = (0..5000).map(|i| format!("{{\n\"n\": {i}\n}}")).collect();
        let text = format!("[\n{}\n]", elements.join(",\n"));
        let input = parse(text.as_bytes(), Format::Json, false);
        assert_eq!(input.records.len(), 5000);
        assert!(input.problems.is_empty());
        // Element i starts on line 2 + 3i.
        for (i, r) in input.records.iter().enumerate() {
            assert_eq!(r.line, 2 + 3 * i, "element {i}");
        }
        let mut lines = Lines::new(text.as_bytes());
        for (r, (offset, _)) in input.records.iter().zip(text.match_indices('{')) {
            assert_eq!(lines.at(offset), r.line);
        }
        assert!(
            lines.scanned <= text.len(),
            "{} > {}",
            lines.scanned,
            text.len()
        );
    }

    #[test]
    fn broken_json_arrays_are_problems_not_panics() {
        for text in [
            &b"["[..],
            b"[{\"a\":1},",
            b"[{\"a\":1} {\"b\":2}]",
            b"[{\"a\":",
            b"[] trailing",
            b"{\"a\":1",
        ] {
            let input = parse(text, Format::Json, false);
            assert!(
                !input.problems.is_empty(),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn csv_with_clerk_fields_types_its_cells() {
        let text = b"external_id,email_address,first_name,banned,create_organizations_limit,public_metadata\n\
            u1,\"a@x.com,b@x.com\",Ada,true,3,\"{\"\"plan\"\":\"\"pro\"\"}\"\n\
            u2,c@x.com,,false,,\n\
            u3,d@x.com,Bob,maybe,,\n";
        let input = parse(text, Format::Auto, true);
        assert_eq!(input.format, Some(Format::Csv));
        assert_eq!(input.records.len(), 2);
        assert_eq!(
            Value::Object(input.records[0].body.to_map()),
            json!({"external_id":"u1","email_address":["a@x.com","b@x.com"],"first_name":"Ada","banned":true,"create_organizations_limit":3,"public_metadata":{"plan":"pro"}})
        );
        assert_eq!(input.records[1].line, 3);
        assert!(!input.records[1].body.to_map().contains_key("first_name"));
        assert_eq!(input.problems.len(), 1);
        assert_eq!(input.problems[0].line, 4);
        assert_eq!(input.problems[0].field.as_deref(), Some("banned"));
    }

    #[test]
    fn migration_tool_users_become_create_bodies() {
        let text = br#"[{"userId":"legacy-1","email":["p@x.com","v@x.com"],"unverifiedEmailAddresses":["u@x.com"],
            "firstName":"Ada","lastName":"L","password":"$2b$10$abc","passwordHasher":"bcrypt",
            "publicMetadata":{"a":1},"phone":"+14155550100","backupCodesEnabled":true}]"#;
        let input = parse(text, Format::Auto, false);
        assert_eq!(input.format, Some(Format::MigrationTool));
        assert_eq!(
            Value::Object(input.records[0].body.to_map()),
            json!({
                "external_id":"legacy-1",
                "email_address":["p@x.com","v@x.com","u@x.com"],
                "email_address_identification_status":["verified","verified","reserved"],
                "phone_number":["+14155550100"],
                "first_name":"Ada","last_name":"L",
                "password_digest":"$2b$10$abc","password_hasher":"bcrypt",
                "public_metadata":{"a":1}
            })
        );
    }

    #[test]
    fn migration_tool_csv_and_plain_passwords() {
        let text = b"userId,email,firstName,password\n7,a@x.com,Ann,hunter2hunter2\n";
        let input = parse(text, Format::MigrationTool, true);
        assert_eq!(
            Value::Object(input.records[0].body.to_map()),
            json!({"external_id":"7","email_address":["a@x.com"],"first_name":"Ann","password":"hunter2hunter2"})
        );
        let unknown =
            crate::migration_tool::to_clerk(obj(json!({"userId":"1","favouriteColour":"red"})));
        assert!(unknown.contains_key("favouriteColour"));
    }
}
