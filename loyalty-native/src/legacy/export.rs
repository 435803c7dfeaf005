//! `loyalty export legacy`: the way back. Writes what happened in this
//! program into the legacy Python program's tables, so that going back to the
//! Python bots keeps every point earned here.
//!
//! Three steps, like the import's:
//!
//! 1. **Read** our store through the [`Storage`] port only ([`read_ours`]):
//!    every customer with the entries made here
//!    ([`Storage::export_customers`], page by page) and every partner
//!    ([`Storage::list_partners`]).
//! 2. **Plan** ([`plan`]): one legacy `users` row per customer (balance := ours),
//!    one `partners` row per approved or suspended partner, one
//!    `partner_applications` row per applied or rejected one, and one
//!    `transactions` row per entry made here, each carrying a stable marker
//!    in its `description` ([`marker`]).
//! 3. **Write** to a [`Target`]: the legacy PostgreSQL database, in one
//!    transaction, inserting only what is not there yet and updating only
//!    what differs ([`write_postgres`], feature `postgres`), or a
//!    `backup_database.py` JSON file ([`backup_json`]); then read the target
//!    back and reconcile every customer's legacy balance with ours
//!    ([`ExportReport`]).
//!
//! Running it again writes nothing: the rows are matched by chat id and the
//! transactions by their marker.
//!
//! ```
//! use loyalty_core::domain::Timestamp;
//! use loyalty_core::stores::memory::MemoryStore;
//! use loyalty_native::legacy::{NoProgress, export};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let ours = export::read_ours(&store, &mut NoProgress).await?;
//! let plan = export::plan(&ours);
//! let backup = export::backup_json(&plan, Timestamp(1_795_000_000));
//! let snapshot = loyalty_native::legacy::Snapshot::from_backup_json(&backup, "the export")?;
//! assert_eq!(snapshot.table("users").map(<[_]>::len), Some(0));
//! # Ok::<(), loyalty_native::legacy::LegacyError>(())
//! # }).unwrap();
//! ```

use super::{LegacyError, Progress, Row, chat_id, integer, language, plural, text};
use loyalty_core::Secret;
use loyalty_core::domain::{
    Customer, CustomerId, EntryKind, Language, LedgerEntry, Partner, PartnerId, PartnerStatus, Points, TelegramUserId,
    Timestamp,
};
use loyalty_core::ports::{CustomerHistory, ExportCustomers, MAX_EXPORT_PAGE, Storage};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// How every exported transaction's `description` begins: `loyalty-rs entry
/// <entry id> of <customer code>` ([`marker`]).
pub const MARKER_PREFIX: &str = "loyalty-rs entry ";

/// The name our customers have when the legacy row had none (the import's).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
const PLACEHOLDER_NAME: &str = "Customer";

/// The marker of an entry: `loyalty-rs entry <id> of <customer code>`. The
/// customer's code makes it unique across stores too (a second migration
/// into a fresh store numbers its entries anew).
pub fn marker(entry: &LedgerEntry, customer: &Customer) -> String {
    format!("{MARKER_PREFIX}{} of {}", entry.id, customer.code)
}

/// The marker a `description` starts with, if it is an export's.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
fn marker_of(description: &str) -> Option<&str> {
    description.starts_with(MARKER_PREFIX).then(|| description.split(": ").next().unwrap_or(description))
}

// ---------------------------------------------------------------------------
// Reading our store

/// Our program as read through the [`Storage`] port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ours {
    /// Every customer in id order, with the entries made here.
    pub customers: Vec<CustomerHistory>,
    /// Every partner, whatever its status.
    pub partners: Vec<Partner>,
}

/// Reads every customer (pages of [`MAX_EXPORT_PAGE`]) and every partner.
///
/// # Errors
/// [`LegacyError::OurStore`] when the store fails.
pub async fn read_ours(store: &dyn Storage, progress: &mut dyn Progress) -> Result<Ours, LegacyError> {
    let mut ours = Ours::default();
    progress.read("customers", 0);
    let mut after: Option<CustomerId> = None;
    loop {
        let page = store
            .export_customers(ExportCustomers { after, limit: MAX_EXPORT_PAGE })
            .await
            .map_err(LegacyError::OurStore)?;
        let Some(last) = page.last() else { break };
        after = Some(last.customer.id);
        let full = page.len() == MAX_EXPORT_PAGE as usize;
        ours.customers.extend(page);
        progress.read("customers", ours.customers.len());
        if !full {
            break;
        }
    }
    progress.read("partners", 0);
    ours.partners = store.list_partners(None).await.map_err(LegacyError::OurStore)?;
    progress.read("partners", ours.partners.len());
    progress.finish();
    Ok(ours)
}

// ---------------------------------------------------------------------------
// Planning

/// A customer as a legacy `users` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserOut {
    /// `chat_id`.
    pub telegram_id: TelegramUserId,
    /// `name`.
    pub name: String,
    /// `username`.
    pub username: Option<String>,
    /// `balance`: ours.
    pub balance: Points,
    /// `lang_code`.
    pub language: Language,
    /// `reg_date`.
    pub created_at: Timestamp,
    /// `referral_code`: our customer code, so that the `ref_<code>` links our
    /// bots printed resolve in the Python bot.
    pub code: String,
    /// `referred_by_chat_id`.
    pub referrer: Option<TelegramUserId>,
}

/// A partner as a legacy `partners` or `partner_applications` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerOut {
    /// `chat_id`.
    pub telegram_id: TelegramUserId,
    /// `name` and `company_name`.
    pub name: String,
    /// `business_type`.
    pub category: String,
    /// Approved or suspended: a `partners` row (`is_active`); applied or
    /// rejected: a `partner_applications` row (`status`).
    pub status: PartnerStatus,
    /// `created_at`.
    pub created_at: Timestamp,
}

/// An entry made here as a legacy `transactions` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionOut {
    /// The entry's id here (the `id` of the backup file's row).
    pub entry: i64,
    /// `client_chat_id`.
    pub client: TelegramUserId,
    /// `partner_chat_id`.
    pub partner: Option<TelegramUserId>,
    /// `date_time`.
    pub at: Timestamp,
    /// `total_amount`: the purchase, for accruals and redemptions.
    pub purchase: Option<Points>,
    /// `earned_points` (never negative).
    pub earned: Points,
    /// `spent_points` (never negative).
    pub spent: Points,
    /// `operation_type` ([`operation`]).
    pub operation: &'static str,
    /// `description`: the [`marker`], then what the entry was.
    pub description: String,
    /// The marker alone.
    pub marker: String,
}

/// The legacy rows of our program.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// One per customer, in id order.
    pub users: Vec<UserOut>,
    /// Approved and suspended partners.
    pub partners: Vec<PartnerOut>,
    /// Applied and rejected partners.
    pub applications: Vec<PartnerOut>,
    /// One per entry made here, oldest first per customer.
    pub transactions: Vec<TransactionOut>,
}

impl Plan {
    /// The sum of our balances.
    pub fn ours_total(&self) -> Points {
        self.users.iter().map(|u| u.balance).sum()
    }
}

/// The legacy `operation_type` of an entry of `kind`, and which of `earned_points`
/// and `spent_points` carries it (by the sign of its amount):
///
/// | entry | `operation_type` | points |
/// |---|---|---|
/// | welcome bonus | `enrollment_bonus` | earned |
/// | referral bonus | `referral_bonus` | earned |
/// | accrual | `accrual` (`total_amount` = the purchase) | earned |
/// | redemption | `redemption` (`total_amount` = the purchase) | spent |
/// | reversal | `reversal` | spent when it cancels an accrual, earned when a redemption |
/// | adjustment | `adjustment` | earned when positive, spent when negative |
/// | expiry | `expiry` | spent |
///
/// The import reads only earned − spent, so every mapping round-trips; the
/// kinds an import brought (`import`, `legacy`) are never exported.
pub fn operation(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::WelcomeBonus => "enrollment_bonus",
        EntryKind::ReferralBonus => "referral_bonus",
        EntryKind::Accrual => "accrual",
        EntryKind::Redemption => "redemption",
        EntryKind::Reversal => "reversal",
        EntryKind::Adjustment => "adjustment",
        EntryKind::Import => "import",
        EntryKind::Legacy => "legacy",
        EntryKind::Expiry => "expiry",
    }
}

/// Turns our program into legacy rows (see the module's documentation).
pub fn plan(ours: &Ours) -> Plan {
    let telegram: HashMap<CustomerId, TelegramUserId> =
        ours.customers.iter().map(|h| (h.customer.id, h.customer.telegram_id)).collect();
    let partner_tg: HashMap<PartnerId, TelegramUserId> = ours.partners.iter().map(|p| (p.id, p.telegram_id)).collect();
    let mut plan = Plan::default();
    for h in &ours.customers {
        let c = &h.customer;
        plan.users.push(UserOut {
            telegram_id: c.telegram_id,
            name: c.first_name.clone(),
            username: c.username.clone(),
            balance: c.balance,
            language: c.language,
            created_at: c.created_at,
            code: c.code.to_string(),
            referrer: c.referrer.and_then(|r| telegram.get(&r).copied()),
        });
        for e in h.entries.iter().filter(|e| e.kind.counts() && e.kind != EntryKind::Import) {
            let (earned, spent) = if e.amount >= 0 { (e.amount, 0) } else { (0, -e.amount) };
            let marker = marker(e, c);
            let detail = match (e.kind, &e.reason, e.reverses) {
                (EntryKind::Reversal, _, Some(of)) => format!("reversal of entry {of}"),
                (_, Some(reason), _) => format!("{}: {reason}", e.kind.as_str()),
                _ => e.kind.as_str().to_owned(),
            };
            plan.transactions.push(TransactionOut {
                entry: e.id.0,
                client: c.telegram_id,
                partner: e.partner.and_then(|p| partner_tg.get(&p).copied()),
                at: e.created_at,
                purchase: e.purchase.filter(|_| matches!(e.kind, EntryKind::Accrual | EntryKind::Redemption)),
                earned,
                spent,
                operation: operation(e.kind),
                description: format!("{marker}: {detail}"),
                marker,
            });
        }
    }
    for p in &ours.partners {
        let out = PartnerOut {
            telegram_id: p.telegram_id,
            name: p.name.clone(),
            category: p.category.clone(),
            status: p.status,
            created_at: p.created_at,
        };
        match p.status {
            PartnerStatus::Approved | PartnerStatus::Suspended => plan.partners.push(out),
            PartnerStatus::Applied | PartnerStatus::Rejected => plan.applications.push(out),
        }
    }
    plan
}

/// A timestamp as the legacy tables write it: `2025-10-20T22:34:13+00:00`.
pub fn legacy_time(t: Timestamp) -> String {
    format!("{}:{:02}+00:00", t.utc_minutes().replacen(' ', "T", 1), t.0.rem_euclid(60))
}

/// The legacy spelling of an application's status (the table's default is `Pending`).
fn application_status(status: PartnerStatus) -> &'static str {
    match status {
        PartnerStatus::Applied => "Pending",
        PartnerStatus::Rejected => "Rejected",
        PartnerStatus::Approved | PartnerStatus::Suspended => "Approved",
    }
}

impl UserOut {
    fn row(&self) -> Row {
        let mut row = Row::new();
        row.insert("chat_id".into(), json!(self.telegram_id.0.to_string()));
        row.insert("name".into(), json!(self.name));
        row.insert("username".into(), json!(self.username));
        row.insert("balance".into(), json!(self.balance));
        row.insert("lang_code".into(), json!(self.language.code()));
        row.insert("reg_date".into(), json!(legacy_time(self.created_at)));
        row.insert("referral_code".into(), json!(self.code));
        row.insert("referred_by_chat_id".into(), json!(self.referrer.map(|r| r.0.to_string())));
        row
    }
}

impl PartnerOut {
    fn row(&self) -> Row {
        let mut row = Row::new();
        row.insert("chat_id".into(), json!(self.telegram_id.0.to_string()));
        row.insert("name".into(), json!(self.name));
        row.insert("company_name".into(), json!(self.name));
        row.insert("business_type".into(), json!(self.category));
        row.insert("created_at".into(), json!(legacy_time(self.created_at)));
        match self.status {
            PartnerStatus::Approved | PartnerStatus::Suspended => {
                row.insert("is_active".into(), json!(self.status == PartnerStatus::Approved));
            }
            PartnerStatus::Applied | PartnerStatus::Rejected => {
                row.insert("status".into(), json!(application_status(self.status)));
            }
        }
        row
    }
}

impl TransactionOut {
    /// The row; `id` only for a backup file (the database numbers its own).
    fn row(&self, with_id: bool) -> Row {
        let mut row = Row::new();
        if with_id {
            row.insert("id".into(), json!(self.entry));
        }
        row.insert("client_chat_id".into(), json!(self.client.0.to_string()));
        row.insert("partner_chat_id".into(), json!(self.partner.map(|p| p.0.to_string())));
        row.insert("date_time".into(), json!(legacy_time(self.at)));
        row.insert("total_amount".into(), json!(self.purchase));
        row.insert("earned_points".into(), json!(self.earned));
        row.insert("spent_points".into(), json!(self.spent));
        row.insert("operation_type".into(), json!(self.operation));
        row.insert("description".into(), json!(self.description));
        row
    }
}

// ---------------------------------------------------------------------------
// The report

/// Where `loyalty export legacy` writes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Target {
    /// The legacy PostgreSQL database (`--to-postgres`; feature `postgres`).
    Postgres(Secret),
    /// A `backup_database.py` JSON file (`--to-backup`).
    Backup(PathBuf),
}

impl Target {
    /// A short description for the report (never a password).
    pub fn describe(&self) -> String {
        match self {
            Target::Postgres(_) => "legacy PostgreSQL database (--to-postgres)".into(),
            Target::Backup(path) => format!("backup {}", path.display()),
        }
    }
}

/// How to run an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportOptions {
    /// Read and plan only: write nothing.
    pub dry_run: bool,
    /// The time of the run (the backup file's `timestamp`).
    pub now: Timestamp,
}

/// How an export ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportOutcome {
    /// `--dry-run`: planned, nothing written.
    DryRun,
    /// Written and read back.
    Exported,
}

/// What became of one legacy table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportTable {
    /// The legacy table.
    pub table: String,
    /// Rows of ours for it.
    pub read: usize,
    /// Rows inserted (or, on a dry run, to insert).
    pub inserted: usize,
    /// Rows updated (or to update).
    pub updated: usize,
    /// Rows already there as they should be: nothing written.
    pub already: usize,
}

impl ExportTable {
    fn new(table: &str, read: usize) -> ExportTable {
        ExportTable { table: table.into(), read, ..ExportTable::default() }
    }
}

/// A customer whose legacy balance, read back after the write, is not ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExportMismatch {
    /// The customer.
    pub telegram_id: TelegramUserId,
    /// The balance here.
    pub ours: Points,
    /// The legacy balance read back (`None`: no row, or not a number).
    pub legacy: Option<Points>,
}

/// The report of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    /// Where it was written.
    pub target: String,
    /// How it ended.
    pub outcome: ExportOutcome,
    /// `users`, `partners`, `partner_applications`, `transactions`.
    pub tables: Vec<ExportTable>,
    /// The sum of our balances.
    pub ours_total: Points,
    /// The sum of our customers' legacy balances read back after the write
    /// (`None` on a dry run).
    pub legacy_total: Option<Points>,
    /// Customers whose legacy balance read back is not ours.
    pub mismatches: Vec<ExportMismatch>,
}

impl ExportReport {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The row of `table`.
    pub fn table(&self, table: &str) -> Option<&ExportTable> {
        self.tables.iter().find(|t| t.table == table)
    }

    /// Rows inserted or updated, over every table.
    pub fn written(&self) -> usize {
        self.tables.iter().map(|t| t.inserted + t.updated).sum()
    }
}

/// Most mismatches the text report lists (`--json` lists all).
const LISTED: usize = 50;

impl fmt::Display for ExportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match self.outcome {
            ExportOutcome::DryRun => "dry run: nothing written",
            ExportOutcome::Exported => "exported",
        };
        writeln!(f, "Legacy export to {}: {outcome}", self.target)?;
        writeln!(f)?;
        writeln!(f, "{:<22}{:>9}{:>10}{:>9}{:>9}", "table", "ours", "inserted", "updated", "already")?;
        for t in &self.tables {
            writeln!(f, "{:<22}{:>9}{:>10}{:>9}{:>9}", t.table, t.read, t.inserted, t.updated, t.already)?;
        }
        write!(f, "\nBalances: ours {} points", self.ours_total)?;
        if let Some(legacy) = self.legacy_total {
            write!(f, ", legacy {legacy} points after the write")?;
        }
        writeln!(f)?;
        if self.outcome == ExportOutcome::Exported {
            if self.mismatches.is_empty() {
                writeln!(f, "Mismatches: none, every customer's legacy balance is ours")?;
            } else {
                writeln!(f, "Mismatches ({}):", plural(self.mismatches.len(), "customer"))?;
                for m in self.mismatches.iter().take(LISTED) {
                    match m.legacy {
                        Some(legacy) => writeln!(f, "  {}: ours {}, legacy {legacy}", m.telegram_id, m.ours)?,
                        None => writeln!(f, "  {}: ours {}, no legacy balance", m.telegram_id, m.ours)?,
                    }
                }
                if self.mismatches.len() > LISTED {
                    writeln!(f, "  … and {} more (--json lists them all)", self.mismatches.len() - LISTED)?;
                }
            }
        }
        Ok(())
    }
}

/// Reconciles our balances with the legacy ones read back (`legacy`, by chat id).
fn reconcile(plan: &Plan, legacy: &HashMap<TelegramUserId, Option<Points>>) -> (Points, Vec<ExportMismatch>) {
    let mut total = 0;
    let mut mismatches = Vec::new();
    for u in &plan.users {
        let got = legacy.get(&u.telegram_id).copied().flatten();
        total += got.unwrap_or(0);
        if got != Some(u.balance) {
            mismatches.push(ExportMismatch { telegram_id: u.telegram_id, ours: u.balance, legacy: got });
        }
    }
    (total, mismatches)
}

// ---------------------------------------------------------------------------
// Into a backup file

/// The plan as `backup_database.py`'s JSON: `{"timestamp", "datetime",
/// "tables": {"<table>": {"table", "count", "data": [rows]}}}` with every
/// customer (balance := ours), partner, application and the transactions of
/// the entries made here (their `id` is the entry's id here).
pub fn backup_json(plan: &Plan, now: Timestamp) -> String {
    let stamp: String = legacy_time(now).chars().take(19).filter(|c| c.is_ascii_digit() || *c == 'T').collect();
    let stamp = stamp.replacen('T', "_", 1);
    let table =
        |name: &str, rows: Vec<Row>| json!({"table": name, "timestamp": stamp, "count": rows.len(), "data": rows});
    let value = json!({
        "timestamp": stamp,
        "datetime": legacy_time(now),
        "tables": {
            "users": table("users", plan.users.iter().map(UserOut::row).collect()),
            "partners": table("partners", plan.partners.iter().map(PartnerOut::row).collect()),
            "partner_applications": table("partner_applications", plan.applications.iter().map(PartnerOut::row).collect()),
            "transactions": table("transactions", plan.transactions.iter().map(|t| t.row(true)).collect()),
        }
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// Writes the plan as a backup file at `path` (through a temporary file
/// beside it), reads it back with
/// [`Snapshot::from_backup_file`](super::Snapshot::from_backup_file) and
/// reconciles the balances.
///
/// # Errors
/// [`LegacyError::Io`] when the file cannot be written; as
/// [`Snapshot::from_backup_file`](super::Snapshot::from_backup_file) when it
/// cannot be read back.
pub fn write_backup(plan: &Plan, path: &Path, options: &ExportOptions) -> Result<ExportReport, LegacyError> {
    let mut tables = vec![
        ExportTable::new("users", plan.users.len()),
        ExportTable::new("partners", plan.partners.len()),
        ExportTable::new("partner_applications", plan.applications.len()),
        ExportTable::new("transactions", plan.transactions.len()),
    ];
    for t in &mut tables {
        t.inserted = t.read;
    }
    let mut report = ExportReport {
        target: Target::Backup(path.to_owned()).describe(),
        outcome: ExportOutcome::DryRun,
        tables,
        ours_total: plan.ours_total(),
        legacy_total: None,
        mismatches: Vec::new(),
    };
    if options.dry_run {
        return Ok(report);
    }
    let shown = path.display().to_string();
    let io = |source| LegacyError::Io { path: shown.clone(), source };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, backup_json(plan, options.now)).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    let snapshot = super::Snapshot::from_backup_file(path)?;
    let legacy: HashMap<TelegramUserId, Option<Points>> = snapshot
        .table("users")
        .unwrap_or_default()
        .iter()
        .filter_map(|r| Some((chat_id(r.get("chat_id"))?, integer(r.get("balance")).ok().flatten())))
        .collect();
    let (total, mismatches) = reconcile(plan, &legacy);
    report.outcome = ExportOutcome::Exported;
    report.legacy_total = Some(total);
    report.mismatches = mismatches;
    Ok(report)
}

// ---------------------------------------------------------------------------
// Into the legacy database

/// What to write into the legacy database, decided against what it holds.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
#[derive(Debug, Default)]
struct Changes {
    /// `users` rows to insert (only the table's columns).
    user_inserts: Vec<Row>,
    /// `users` rows to update: `chat_id` as the legacy row has it, and the
    /// columns to set.
    user_updates: Vec<Row>,
    partner_inserts: Vec<Row>,
    partner_updates: Vec<Row>,
    application_inserts: Vec<Row>,
    application_updates: Vec<Row>,
    transaction_inserts: Vec<Row>,
}

/// The legacy database's content that the export compares with.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
#[derive(Debug, Default)]
struct LegacyState {
    /// Columns of each table present.
    columns: HashMap<&'static str, Vec<String>>,
    /// `users` by chat id: the first row in `chat_id` order, as the import reads it.
    users: HashMap<TelegramUserId, Row>,
    /// `partners` by chat id.
    partners: HashMap<TelegramUserId, Row>,
    /// `partner_applications` by chat id.
    applications: HashMap<TelegramUserId, Row>,
    /// The markers already in `transactions.description`.
    markers: HashSet<String>,
}

#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
impl LegacyState {
    fn has(&self, table: &str, column: &str) -> bool {
        self.columns.get(table).is_some_and(|cs| cs.iter().any(|c| c == column))
    }

    /// `row` with only the columns `table` has.
    fn only_columns(&self, table: &str, mut row: Row) -> Row {
        row.retain(|k, _| self.has(table, k));
        row
    }

    /// Checks that the columns the export writes by are there.
    fn check(&self, plan: &Plan) -> Result<(), LegacyError> {
        let need = |table: &str, columns: &[&str], why: bool| -> Result<(), LegacyError> {
            if !why {
                return Ok(());
            }
            if !self.columns.contains_key(table) {
                return Err(LegacyError::Format(format!(
                    "the legacy PostgreSQL database has no table {table}, which the export writes"
                )));
            }
            for c in columns {
                if !self.has(table, c) {
                    return Err(LegacyError::Format(format!(
                        "the legacy PostgreSQL database: table {table} has no column {c}, which the export needs"
                    )));
                }
            }
            Ok(())
        };
        need("users", &["chat_id", "balance"], true)?;
        need(
            "transactions",
            &["client_chat_id", "partner_chat_id", "earned_points", "spent_points", "description"],
            true,
        )?;
        need("partners", &["chat_id"], !plan.partners.is_empty())?;
        need("partner_applications", &["chat_id", "status"], !plan.applications.is_empty())?;
        Ok(())
    }

    /// Decides what to write, counting into `tables`.
    fn changes(&self, plan: &Plan, tables: &mut [ExportTable; 4]) -> Changes {
        let mut ch = Changes::default();
        let [users_t, partners_t, apps_t, tx_t] = tables;
        for u in &plan.users {
            let ours = u.row();
            let Some(have) = self.users.get(&u.telegram_id) else {
                ch.user_inserts.push(self.only_columns("users", ours));
                users_t.inserted += 1;
                continue;
            };
            let mut set = Row::new();
            if integer(have.get("balance")) != Ok(Some(u.balance)) {
                set.insert("balance".into(), json!(u.balance));
            }
            let name = text(have.get("name"));
            if name.as_deref() != Some(u.name.as_str()) && !(name.is_none() && u.name == PLACEHOLDER_NAME) {
                set.insert("name".into(), json!(u.name));
            }
            // A `de` stays `de` unless the customer chose another language here.
            if language(text(have.get("lang_code")).as_deref()) != u.language {
                set.insert("lang_code".into(), json!(u.language.code()));
            }
            // The legacy code stays (its old links); a customer without one gets ours.
            if text(have.get("referral_code")).is_none() {
                set.insert("referral_code".into(), json!(u.code));
            }
            let set = self.only_columns("users", set);
            if set.is_empty() {
                users_t.already += 1;
            } else {
                let mut row = set;
                row.insert("chat_id".into(), have.get("chat_id").cloned().unwrap_or(Value::Null));
                ch.user_updates.push(row);
                users_t.updated += 1;
            }
        }
        for p in &plan.partners {
            let active = p.status == PartnerStatus::Approved;
            match self.partners.get(&p.telegram_id) {
                None => {
                    ch.partner_inserts.push(self.only_columns("partners", p.row()));
                    partners_t.inserted += 1;
                }
                Some(have)
                    if self.has("partners", "is_active") && super::boolean(have.get("is_active")) != Some(active) =>
                {
                    ch.partner_updates.push(row_of(&[
                        ("chat_id", have.get("chat_id").cloned().unwrap_or(Value::Null)),
                        ("is_active", json!(active)),
                    ]));
                    partners_t.updated += 1;
                }
                Some(_) => partners_t.already += 1,
            }
        }
        for p in &plan.applications {
            let status = application_status(p.status);
            if let Some(have) = self.partners.get(&p.telegram_id) {
                // Rejected here but a partner there: not active.
                if self.has("partners", "is_active") && super::boolean(have.get("is_active")) != Some(false) {
                    ch.partner_updates.push(row_of(&[
                        ("chat_id", have.get("chat_id").cloned().unwrap_or(Value::Null)),
                        ("is_active", json!(false)),
                    ]));
                    apps_t.updated += 1;
                } else {
                    apps_t.already += 1;
                }
                continue;
            }
            match self.applications.get(&p.telegram_id) {
                None => {
                    ch.application_inserts.push(self.only_columns("partner_applications", p.row()));
                    apps_t.inserted += 1;
                }
                Some(have) if text(have.get("status")).map(|s| s.to_lowercase()) != Some(status.to_lowercase()) => {
                    ch.application_updates.push(row_of(&[
                        ("chat_id", have.get("chat_id").cloned().unwrap_or(Value::Null)),
                        ("status", json!(status)),
                    ]));
                    apps_t.updated += 1;
                }
                Some(_) => apps_t.already += 1,
            }
        }
        // An approved partner whose application is still pending there: approved.
        for p in &plan.partners {
            if let Some(have) = self.applications.get(&p.telegram_id)
                && self.has("partner_applications", "status")
                && text(have.get("status")).map(|s| s.to_lowercase()).as_deref() == Some("pending")
            {
                ch.application_updates.push(row_of(&[
                    ("chat_id", have.get("chat_id").cloned().unwrap_or(Value::Null)),
                    ("status", json!("Approved")),
                ]));
            }
        }
        for t in &plan.transactions {
            if self.markers.contains(&t.marker) {
                tx_t.already += 1;
                continue;
            }
            // The chat ids as the legacy rows spell them (`01006`), which the
            // Python program looks its transactions up by.
            let mut row = t.row(false);
            if let Some(id) = self.users.get(&t.client).and_then(|u| u.get("chat_id")) {
                row.insert("client_chat_id".into(), json!(super::shown_id(Some(id))));
            }
            if let Some(id) = t.partner.and_then(|p| self.partners.get(&p)).and_then(|p| p.get("chat_id")) {
                row.insert("partner_chat_id".into(), json!(super::shown_id(Some(id))));
            }
            ch.transaction_inserts.push(self.only_columns("transactions", row));
            tx_t.inserted += 1;
        }
        ch
    }
}

#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
fn row_of(pairs: &[(&str, Value)]) -> Row {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

/// `select` of the `wanted` columns `table` has, each row as JSON text, in `chat_id` order.
#[cfg(feature = "postgres")]
fn select_sql(state: &LegacyState, table: &str, wanted: &[&str]) -> String {
    let cols: Vec<String> = wanted.iter().filter(|c| state.has(table, c)).map(|c| super::quote_ident(c)).collect();
    format!(
        "select to_jsonb(t)::text from (select {} from {} order by {}) t",
        cols.join(", "),
        super::quote_ident(table),
        super::quote_ident("chat_id")
    )
}

/// Moves the sequence behind `table.id`, if there is one, past the largest id in use.
#[cfg(feature = "postgres")]
async fn catch_up_sequence(tx: &tokio_postgres::Transaction<'_>, table: &str) -> Result<(), tokio_postgres::Error> {
    let seq: Option<String> =
        tx.query_one("select pg_get_serial_sequence($1, 'id')", &[&super::quote_ident(table)]).await?.get(0);
    let Some(seq) = seq else { return Ok(()) };
    let max: Option<i64> =
        tx.query_one(format!("select max(id)::bigint from {}", super::quote_ident(table)).as_str(), &[]).await?.get(0);
    let Some(max) = max else { return Ok(()) };
    let row = tx.query_one(format!("select last_value, is_called from {seq}").as_str(), &[]).await?;
    let (last, called): (i64, bool) = (row.get(0), row.get(1));
    let next = if called { last + 1 } else { last };
    if next <= max {
        tx.execute("select setval($1::text::regclass, $2)", &[&seq, &max]).await?;
    }
    Ok(())
}

/// Rows per statement ([`jsonb_populate_recordset`](https://www.postgresql.org/docs/current/functions-json.html)).
#[cfg(feature = "postgres")]
const CHUNK: usize = 2_000;

/// Writes the plan into the legacy PostgreSQL database at `url`, in one
/// transaction: customers' `users` rows upserted by chat id (balance := ours,
/// name, language; new customers with their sign-up date and our code as
/// `referral_code`), partners and applications inserted or their
/// `is_active`/`status` updated, and a `transactions` row for each entry
/// whose [`marker`] is not there yet. Only the columns a table has are
/// written (values cast to their types by PostgreSQL). Then reads `users`
/// back and reconciles the balances. With [`ExportOptions::dry_run`], it
/// plans against the database and writes nothing.
///
/// # Errors
/// [`LegacyError::Target`] when the database cannot be reached or written
/// (nothing is written then); [`LegacyError::Format`] when a table or
/// column the export needs is missing.
#[cfg(feature = "postgres")]
pub async fn write_postgres(
    plan: &Plan,
    url: &str,
    options: &ExportOptions,
    progress: &mut dyn Progress,
) -> Result<ExportReport, LegacyError> {
    let secret = Secret::new(url);
    let failed = |e: tokio_postgres::Error| {
        let why = match e.as_db_error() {
            Some(db) => format!("{}: {}", db.code().code(), db.message()),
            None => e.to_string(),
        };
        LegacyError::Target(secret.redact(&format!("the legacy PostgreSQL database (--to-postgres): {why}")))
    };
    let (mut client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.map_err(failed)?;
    let driver = tokio::spawn(connection);
    let tx = client.transaction().await.map_err(failed)?;
    let mut state = LegacyState::default();
    for table in ["users", "partners", "partner_applications", "transactions"] {
        let columns: Vec<String> = tx
            .query(
                "select column_name::text from information_schema.columns \
                 where table_schema = current_schema() and table_name = $1 order by ordinal_position",
                &[&table],
            )
            .await
            .map_err(failed)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if !columns.is_empty() {
            state.columns.insert(table, columns);
        }
    }
    state.check(plan)?;
    if !options.dry_run {
        // Nobody else writes these tables until the commit (the Python
        // program, if it still runs, waits): what is read below stays true.
        let present: Vec<String> = ["users", "partners", "partner_applications", "transactions"]
            .into_iter()
            .filter(|t| state.columns.contains_key(t))
            .map(super::quote_ident)
            .collect();
        let sql = format!("lock table {} in share row exclusive mode", present.join(", "));
        tx.batch_execute(sql.as_str()).await.map_err(failed)?;
    }
    let by_chat_id =
        |rows: Vec<tokio_postgres::Row>, what: &str| -> Result<HashMap<TelegramUserId, Row>, LegacyError> {
            let mut map = HashMap::new();
            for r in rows {
                let text: String = r.get(0);
                let row: Row = serde_json::from_str(&text)
                    .map_err(|source| LegacyError::Json { what: format!("a {what} row from PostgreSQL"), source })?;
                if let Some(id) = chat_id(row.get("chat_id")) {
                    map.entry(id).or_insert(row);
                }
            }
            Ok(map)
        };
    progress.read("legacy users", 0);
    let users_sql = select_sql(&state, "users", &["chat_id", "name", "balance", "lang_code", "referral_code"]);
    state.users = by_chat_id(tx.query(users_sql.as_str(), &[]).await.map_err(failed)?, "users")?;
    progress.read("legacy users", state.users.len());
    if state.columns.contains_key("partners") && state.has("partners", "chat_id") {
        let sql = select_sql(&state, "partners", &["chat_id", "is_active"]);
        state.partners = by_chat_id(tx.query(sql.as_str(), &[]).await.map_err(failed)?, "partners")?;
    }
    if state.has("partner_applications", "chat_id") {
        let sql = select_sql(&state, "partner_applications", &["chat_id", "status"]);
        state.applications = by_chat_id(tx.query(sql.as_str(), &[]).await.map_err(failed)?, "partner_applications")?;
    }
    progress.read("legacy transactions", 0);
    let like = format!("{MARKER_PREFIX}%");
    for r in tx
        .query("select description::text from transactions where description::text like $1", &[&like])
        .await
        .map_err(failed)?
    {
        let d: String = r.get(0);
        if let Some(m) = marker_of(&d) {
            state.markers.insert(m.to_owned());
        }
    }
    progress.read("legacy transactions", state.markers.len());
    progress.finish();

    let mut tables = [
        ExportTable::new("users", plan.users.len()),
        ExportTable::new("partners", plan.partners.len()),
        ExportTable::new("partner_applications", plan.applications.len()),
        ExportTable::new("transactions", plan.transactions.len()),
    ];
    let changes = state.changes(plan, &mut tables);
    let mut report = ExportReport {
        target: Target::Postgres(secret.clone()).describe(),
        outcome: ExportOutcome::DryRun,
        tables: tables.to_vec(),
        ours_total: plan.ours_total(),
        legacy_total: None,
        mismatches: Vec::new(),
    };
    if options.dry_run {
        drop(tx);
        drop(client);
        let _ = driver.await;
        return Ok(report);
    }

    // Inserts of whole rows, updates of the given columns, matched by chat id as text.
    let insert = |table: &str, columns: &[String]| {
        let cols: Vec<String> = columns.iter().map(|c| super::quote_ident(c)).collect();
        format!(
            "insert into {t} ({c}) select {c} from jsonb_populate_recordset(null::{t}, $1::text::jsonb)",
            t = super::quote_ident(table),
            c = cols.join(", ")
        )
    };
    let update = |table: &str, columns: &[String]| {
        let set: Vec<String> = columns.iter().map(|c| format!("{q} = r.{q}", q = super::quote_ident(c))).collect();
        format!(
            "update {t} u set {s} from jsonb_populate_recordset(null::{t}, $1::text::jsonb) r \
             where u.chat_id::text = r.chat_id::text",
            t = super::quote_ident(table),
            s = set.join(", ")
        )
    };
    let steps: [(&str, &str, bool, &Vec<Row>); 7] = [
        ("users", "users", true, &changes.user_inserts),
        ("users", "users", false, &changes.user_updates),
        ("partners", "partners", true, &changes.partner_inserts),
        ("partners", "partners", false, &changes.partner_updates),
        ("partner_applications", "partner_applications", true, &changes.application_inserts),
        ("partner_applications", "partner_applications", false, &changes.application_updates),
        ("transactions", "transactions", true, &changes.transaction_inserts),
    ];
    // A database restored with its ids (or filled by hand) can have its id
    // sequences behind the ids in use: catch them up, or the inserts (and
    // the Python program's next ones) would collide.
    for table in ["transactions", "partner_applications"] {
        if state.has(table, "id") {
            catch_up_sequence(&tx, table).await.map_err(failed)?;
        }
    }
    for (table, shown, inserting, rows) in steps {
        let mut done = 0;
        // Rows of one statement share their columns.
        let mut groups: Vec<(Vec<String>, Vec<&Row>)> = Vec::new();
        for row in rows.iter() {
            let mut cols: Vec<String> = row.keys().cloned().collect();
            if !inserting {
                cols.retain(|c| c != "chat_id");
            }
            match groups.iter_mut().find(|(c, _)| *c == cols) {
                Some((_, rs)) => rs.push(row),
                None => groups.push((cols, vec![row])),
            }
        }
        for (cols, rows) in groups {
            let sql = if inserting { insert(table, &cols) } else { update(table, &cols) };
            for chunk in rows.chunks(CHUNK) {
                let json = Value::Array(chunk.iter().map(|r| Value::Object((*r).clone())).collect()).to_string();
                tx.execute(sql.as_str(), &[&json]).await.map_err(failed)?;
                done += chunk.len();
                progress.writing(shown, done);
            }
        }
    }
    tx.commit().await.map_err(failed)?;
    progress.finish();

    // Read the balances back.
    let rows = client
        .query("select to_jsonb(t)::text from (select chat_id, balance from users order by chat_id) t", &[])
        .await
        .map_err(failed)?;
    let mut legacy: HashMap<TelegramUserId, Option<Points>> = HashMap::new();
    for (id, row) in by_chat_id(rows, "users")? {
        legacy.insert(id, integer(row.get("balance")).ok().flatten());
    }
    drop(client);
    let _ = driver.await;
    let (total, mismatches) = reconcile(plan, &legacy);
    report.outcome = ExportOutcome::Exported;
    report.legacy_total = Some(total);
    report.mismatches = mismatches;
    Ok(report)
}

/// Reads our store, plans, and writes to `target` (see the module's documentation).
///
/// # Errors
/// As [`read_ours`], [`write_backup`] and [`write_postgres`];
/// [`LegacyError::Config`] for PostgreSQL in a build without the `postgres` feature.
pub async fn export(
    store: &dyn Storage,
    target: &Target,
    options: &ExportOptions,
    progress: &mut dyn Progress,
) -> Result<ExportReport, LegacyError> {
    let ours = read_ours(store, progress).await?;
    let plan = plan(&ours);
    match target {
        Target::Backup(path) => write_backup(&plan, path, options),
        #[cfg(feature = "postgres")]
        Target::Postgres(url) => write_postgres(&plan, url.expose(), options, progress).await,
        #[cfg(not(feature = "postgres"))]
        Target::Postgres(_) => Err(LegacyError::Config(
            "--to-postgres needs the `postgres` feature, which this build of loyalty lacks; rebuild it with \
             `--features postgres`, or use --to-backup"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_markers_read_back() {
        let t = Timestamp(1_795_000_007);
        assert_eq!(legacy_time(t), "2026-11-18T11:06:47+00:00");
        assert_eq!(super::super::parse_timestamp(&legacy_time(t)), Some(t));
        assert_eq!(marker_of("loyalty-rs entry 12 of ABCD2345: accrual"), Some("loyalty-rs entry 12 of ABCD2345"));
        assert_eq!(marker_of("loyalty-rs entry 12 of ABCD2345"), Some("loyalty-rs entry 12 of ABCD2345"));
        assert_eq!(marker_of("accrual #12"), None);
    }
}
