// Over 600 lines only with its unit tests (the code is ~530): one reader per input format.
//! Import input: JSON Lines, JSON arrays and CSV of Clerk create bodies, and Clerk
//! migration-tool's user format, each record tagged with the line it starts on.

use std::fmt;
use std::str::FromStr;

use clerk_core::users::{CreateUser, FieldKind};
use serde_json::{Map, Value};

#[cfg(test)]
use crate::records::Records;
use crate::records::strip_position;

/// One input record: a Clerk `CreateUser` body (snake_case fields), not yet validated.
#[cfg(test)]
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Record {
    /// Position in the input, from 0; the checkpoint journal is keyed by it.
    pub(crate) index: usize,
    /// 1-based line on which the record starts.
    pub(crate) line: usize,
    /// The create body.
    pub(crate) body: Body,
}

#[cfg(test)]
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
#[cfg(test)]
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

/// Parses input bytes; `csv_name` tells detection the input is called `*.csv`. The
/// in-memory way in (tests, fuzzing): `import` streams files with [`Records`].
#[cfg(test)]
pub(crate) fn parse(bytes: &[u8], format: Format, csv_name: bool) -> Input {
    let mut records = Records::from_bytes(bytes, format, csv_name);
    let mut input = Input::default();
    for raw in records.by_ref() {
        // Reading from memory cannot fail.
        let Ok(raw) = raw else { break };
        match raw.body {
            Ok(body) => input.records.push(Record {
                index: input.records.len(),
                line: raw.line,
                body: Body::from_map(body),
            }),
            Err(problems) => input.problems.extend(problems),
        }
    }
    input.format = Some(records.layout().format);
    input
}

pub(crate) fn as_object(value: Value, line: usize) -> Result<Map<String, Value>, ReadProblem> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ReadProblem {
            line,
            field: None,
            message: format!("expected a JSON object, found {}", kind(&other)),
        }),
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

/// One CSV row as a create body (or migration-tool user), typed by its header.
pub(crate) fn csv_row(
    headers: &[String],
    row: &csv::StringRecord,
    migration: bool,
    line: usize,
) -> Result<Map<String, Value>, Vec<ReadProblem>> {
    let mut body = Map::new();
    let mut problems = Vec::new();
    for (header, cell) in headers.iter().zip(row.iter()) {
        match csv_cell(header, cell, migration) {
            Ok(Some(value)) => {
                body.insert(header.clone(), value);
            }
            Ok(None) => {}
            Err(message) => problems.push(ReadProblem {
                line,
                field: Some(header.clone()),
                message,
            }),
        }
    }
    if problems.is_empty() {
        Ok(body)
    } else {
        Err(problems)
    }
}

pub(crate) fn looks_like_migration_tool(body: &Map<String, Value>) -> bool {
    body.contains_key("userId")
        || (body.contains_key("email") && !body.contains_key("email_address"))
        || body.contains_key("firstName")
        || body.contains_key("passwordHasher")
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
    fn every_element_of_a_large_array_gets_its_line() {
        let elements: Vec<String> = (0..5000).map(|i| format!("{{\n\"n\": {i}\n}}")).collect();
        let text = format!("[\n{}\n]", elements.join(",\n"));
        let input = parse(text.as_bytes(), Format::Json, false);
        assert_eq!(input.records.len(), 5000);
        assert!(input.problems.is_empty());
        // Element i starts on line 2 + 3i.
        for (i, r) in input.records.iter().enumerate() {
            assert_eq!(r.line, 2 + 3 * i, "element {i}");
        }
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
