//! `loyalty export data`: the program's customers, partners and ledger
//! entries as CSV or JSON Lines, one file per table, streamed page by page
//! ([`Storage::export_page`], [`EXPORT_BATCH`] rows a call), so a ledger of
//! any length is written without being held in memory.
//!
//! CSV files have a header row; text cells that a spreadsheet would take for
//! a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return)
//! are prefixed with `'`. Times are Unix seconds (UTC). JSON Lines files hold
//! one object per line, the rows as the storage port returns them.

use loyalty_core::domain::{Author, Customer, LedgerEntry, Partner};
use loyalty_core::ports::{ExportPage, ExportRows, ExportTable, Storage};
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Rows asked for in one storage call.
pub const EXPORT_BATCH: u32 = 1_000;

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row (`.csv`).
    Csv,
    /// One JSON object per line (`.jsonl`).
    JsonLines,
}

impl Format {
    /// The files' extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::JsonLines => "jsonl",
        }
    }
}

/// What an export wrote: per table, the file and its rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exported {
    /// `(table, file, rows)` in the order written.
    pub files: Vec<(&'static str, PathBuf, u64)>,
}

/// Why an export stopped (what was written so far stays, incomplete).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The store refused or failed.
    #[error("reading the {table}: {message}")]
    Storage {
        /// The table being read.
        table: &'static str,
        /// What the store said.
        message: String,
    },
    /// A file could not be created or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

const TABLES: [(ExportTable, &str); 3] =
    [(ExportTable::Customers, "customers"), (ExportTable::Partners, "partners"), (ExportTable::Entries, "entries")];

/// Writes `customers`, `partners` and `entries` files of `format` into
/// `dir` (which must exist), replacing files of those names.
///
/// # Errors
/// [`ExportError`] at the first failure.
pub async fn export(storage: &dyn Storage, dir: &Path, format: Format) -> Result<Exported, ExportError> {
    let mut exported = Exported::default();
    for (table, name) in TABLES {
        let path = dir.join(format!("{name}.{}", format.extension()));
        let io = |source| ExportError::Io { path: path.clone(), source };
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io)?);
        if format == Format::Csv {
            writeln!(out, "{}", header(table)).map_err(io)?;
        }
        let (mut after, mut rows, mut line) = (0, 0u64, String::new());
        loop {
            let page = ExportPage { table, after, limit: EXPORT_BATCH };
            let found = storage
                .export_page(page)
                .await
                .map_err(|e| ExportError::Storage { table: name, message: e.to_string() })?;
            let ids = found.ids();
            let Some(&last) = ids.last() else { break };
            let written = match &found {
                ExportRows::Customers(v) => write_rows(&mut out, &mut line, v, format, customer_csv),
                ExportRows::Partners(v) => write_rows(&mut out, &mut line, v, format, partner_csv),
                ExportRows::Entries(v) => write_rows(&mut out, &mut line, v, format, entry_csv),
            };
            written.map_err(io)?;
            rows += ids.len() as u64;
            after = last;
        }
        out.flush().map_err(io)?;
        exported.files.push((name, path, rows));
    }
    Ok(exported)
}

/// `rows` as lines of `format` (`csv` writes one CSV row), through the scratch `line`.
fn write_rows<T: serde::Serialize>(
    out: &mut impl Write,
    line: &mut String,
    rows: &[T],
    format: Format,
    csv: fn(&mut String, &T),
) -> std::io::Result<()> {
    for row in rows {
        line.clear();
        match format {
            Format::Csv => csv(line, row),
            Format::JsonLines => json_line(line, row),
        }
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn header(table: ExportTable) -> &'static str {
    match table {
        ExportTable::Customers => {
            "id,telegram_id,code,first_name,username,language,referrer,balance,tier,blocked,created_at"
        }
        ExportTable::Partners => {
            "id,telegram_id,name,category,status,earn_rate_bps,max_redeem_share_bps,daily_credit_limit,language,\
             has_api_key,created_at"
        }
        ExportTable::Entries => {
            "id,customer,kind,amount,partner,purchase,author_type,author_id,reverses,reason,idempotency_key,\
             rules_version,created_at"
        }
    }
}

/// `text` as one CSV cell: quoted when it holds a comma, a quote or a line
/// break (quotes doubled), and neutralised (a leading `'`) when a spreadsheet
/// would read it as a formula.
fn cell(out: &mut String, text: &str) {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quoted = formula || text.contains([',', '"', '\n', '\r']);
    if quoted {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    for c in text.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quoted {
        out.push('"');
    }
}

/// Cells separated by commas, then a line break: numbers as they are, text through [`cell`].
enum Cell<'a> {
    Num(i64),
    Text(&'a str),
    None,
}

fn row(out: &mut String, cells: &[Cell<'_>]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match c {
            Cell::Num(n) => {
                let _ = write!(out, "{n}");
            }
            Cell::Text(t) => cell(out, t),
            Cell::None => {}
        }
    }
    out.push('\n');
}

fn customer_csv(out: &mut String, c: &Customer) {
    row(
        out,
        &[
            Cell::Num(c.id.0),
            Cell::Num(c.telegram_id.0),
            Cell::Text(c.code.as_str()),
            Cell::Text(&c.first_name),
            c.username.as_deref().map_or(Cell::None, Cell::Text),
            Cell::Text(c.language.code()),
            c.referrer.map_or(Cell::None, |r| Cell::Num(r.0)),
            Cell::Num(c.balance),
            Cell::Num(i64::from(c.tier)),
            Cell::Text(if c.blocked { "true" } else { "false" }),
            Cell::Num(c.created_at.0),
        ],
    );
}

fn partner_csv(out: &mut String, p: &Partner) {
    row(
        out,
        &[
            Cell::Num(p.id.0),
            Cell::Num(p.telegram_id.0),
            Cell::Text(&p.name),
            Cell::Text(&p.category),
            Cell::Text(p.status.as_str()),
            Cell::Num(i64::from(p.terms.earn_rate_bps)),
            Cell::Num(i64::from(p.terms.max_redeem_share_bps)),
            Cell::Num(p.terms.daily_credit_limit),
            Cell::Text(p.language.code()),
            Cell::Text(if p.has_api_key { "true" } else { "false" }),
            Cell::Num(p.created_at.0),
        ],
    );
}

fn entry_csv(out: &mut String, e: &LedgerEntry) {
    let (author_type, author_id) = match e.author {
        Author::System => ("system", None),
        Author::Customer(c) => ("customer", Some(c.0)),
        Author::Partner(p) => ("partner", Some(p.0)),
        Author::Admin(a) => ("admin", Some(a.0)),
    };
    row(
        out,
        &[
            Cell::Num(e.id.0),
            Cell::Num(e.customer.0),
            Cell::Text(e.kind.as_str()),
            Cell::Num(e.amount),
            e.partner.map_or(Cell::None, |p| Cell::Num(p.0)),
            e.purchase.map_or(Cell::None, Cell::Num),
            Cell::Text(author_type),
            author_id.map_or(Cell::None, Cell::Num),
            e.reverses.map_or(Cell::None, |r| Cell::Num(r.0)),
            e.reason.as_deref().map_or(Cell::None, Cell::Text),
            Cell::Text(&e.idempotency_key),
            Cell::Num(i64::from(e.rules_version)),
            Cell::Num(e.created_at.0),
        ],
    );
}

fn json_line<T: serde::Serialize>(out: &mut String, value: &T) {
    // Our rows always serialize; a failure would be a bug, written as an empty object.
    out.push_str(&serde_json::to_string(value).unwrap_or_else(|_| "{}".into()));
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_neutralised() {
        let mut out = String::new();
        row(&mut out, &[Cell::Text("plain"), Cell::Text("a,b"), Cell::Text("say \"hi\""), Cell::Text("=1+2")]);
        row(&mut out, &[Cell::Num(-5), Cell::None, Cell::Text("line\nbreak"), Cell::Text("-x")]);
        assert_eq!(out, "plain,\"a,b\",\"say \"\"hi\"\"\",\"'=1+2\"\n-5,,\"line\nbreak\",\"'-x\"\n");
    }
}
