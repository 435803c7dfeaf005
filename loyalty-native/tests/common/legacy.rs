//! The legacy Python program's database for the tests of `loyalty import
//! legacy` and `loyalty export legacy`: its DDL, generated data with every
//! awkward case the real data has, and a database on the test server.

use loyalty_core::domain::Timestamp;
use loyalty_testkit::services::postgres::Database;
use serde_json::{Value, json};

/// The time of every run.
pub(crate) const NOW: Timestamp = Timestamp(1_795_000_000);

/// The legacy program's tables: its README's DDL with the columns its later
/// migrations added (`lang_code`, `referral_code`, `referred_by_chat_id`,
/// `birthday`, `username`; partners' `is_active`, `created_at`,
/// `business_type`; services' `is_active`, `approval_status`). The deployed
/// database holds transactions of clients such as `VIA_PARTNER_…` that are in
/// no `users` row, so it has no foreign keys there, nor here.
pub(crate) const FULL_DDL: &str = "
create table users (
    chat_id text primary key,
    phone text unique,
    name text,
    balance integer default 0,
    status text default 'active',
    city text,
    district text,
    reg_date timestamp,
    last_visit timestamp,
    registered_via text,
    referral_source text,
    total_bonus_spent integer default 0,
    total_money_spent numeric default 0,
    lang_code text,
    referral_code text,
    referred_by_chat_id text,
    birthday date,
    username text
);
create table partner_applications (
    id serial,
    chat_id text primary key,
    name text,
    phone text,
    company_name text,
    city text,
    district text,
    status text default 'Pending',
    created_at timestamp default now(),
    business_type text
);
create table partners (
    chat_id text primary key,
    name text,
    company_name text,
    city text,
    district text,
    business_type text,
    is_active boolean default true,
    created_at timestamptz default now()
);
create table transactions (
    id serial primary key,
    client_chat_id text,
    partner_chat_id text,
    date_time timestamp default now(),
    total_amount numeric,
    earned_points integer,
    spent_points integer,
    operation_type text,
    description text
);
create table services (
    id serial primary key,
    partner_chat_id text,
    title text,
    description text,
    price_points integer,
    is_active boolean default true,
    approval_status text default 'Pending'
);";

/// The README's DDL exactly: a deployment that ran none of the later migrations.
pub(crate) const README_DDL: &str = "
create table users (
    chat_id text primary key,
    phone text unique,
    name text,
    balance integer default 0,
    status text default 'active',
    city text,
    district text,
    reg_date timestamp,
    last_visit timestamp,
    registered_via text,
    referral_source text,
    total_bonus_spent integer default 0,
    total_money_spent numeric default 0
);
create table partner_applications (
    chat_id text primary key,
    name text,
    phone text,
    company_name text,
    city text,
    district text,
    status text default 'Pending',
    created_at timestamp default now()
);
create table partners (
    chat_id text primary key,
    name text,
    company_name text
);
create table transactions (
    id serial primary key,
    client_chat_id text,
    partner_chat_id text,
    date_time timestamp default now(),
    total_amount numeric,
    earned_points integer,
    spent_points integer,
    operation_type text,
    description text
);
create table services (
    id serial primary key,
    partner_chat_id text,
    title text,
    description text,
    price_points integer,
    status text default 'Pending'
);";

/// Generated customers (besides the hand-made ones): three batches of 500.
pub(crate) const GENERATED: i64 = 1100;
/// The first generated customer's chat id.
pub(crate) const FIRST_GENERATED: i64 = 300_000_000;

/// The legacy data, table by table, in the order the import reads it
/// (users and partners by `chat_id`, the others by `id`).
#[derive(Debug, Clone)]
pub(crate) struct Legacy {
    pub(crate) users: Vec<Value>,
    pub(crate) partners: Vec<Value>,
    pub(crate) applications: Vec<Value>,
    pub(crate) transactions: Vec<Value>,
    pub(crate) services: Vec<Value>,
}

/// A small deterministic generator (SplitMix64).
pub(crate) struct Gen(u64);

impl Gen {
    pub(crate) fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below
    }
}

/// A transaction row; `points` are earned and spent.
pub(crate) fn tx(id: i64, client: &str, partner: Value, at: &str, total: Value, points: (i64, i64), op: &str) -> Value {
    let (earned, spent) = points;
    json!({
        "id": id, "client_chat_id": client, "partner_chat_id": partner, "date_time": at,
        "total_amount": total, "earned_points": earned, "spent_points": spent,
        "operation_type": op, "description": format!("{op} #{id}"),
    })
}

impl Legacy {
    /// Every awkward case of the real data, plus [`GENERATED`] ordinary customers.
    pub(crate) fn generate() -> Legacy {
        Legacy::with_generated(GENERATED)
    }

    /// Every awkward case of the real data, plus `generated` ordinary customers.
    pub(crate) fn with_generated(generated: i64) -> Legacy {
        let mut users = vec![
            // Referred by chat id by the last generated customer (a later batch).
            json!({"chat_id": "1001", "name": "Anna", "balance": 112, "lang_code": "ru", "referral_code": "ANNA1",
                   "reg_date": "2025-10-20T22:34:13.952359", "phone": "+7900000001",
                   "referred_by_chat_id": (FIRST_GENERATED + generated - 1).to_string()}),
            // Referred by Anna's code.
            json!({"chat_id": "1002", "name": "Bob", "balance": 15, "lang_code": "en-US",
                   "referral_source": "ref_ANNA1", "username": "@bob", "reg_date": "2025-10-21T08:00:00"}),
            // Referred by Anna's chat id.
            json!({"chat_id": "1003", "name": "Châu", "balance": 0, "lang_code": "vi", "referred_by_chat_id": "1001",
                   "birthday": "1990-05-17", "reg_date": "2025-10-22T08:00:00"}),
            json!({"chat_id": "1004", "name": "Dieter", "balance": 0, "lang_code": "de",
                   "referral_source": "partner_7001", "reg_date": "2025-10-23T08:00:00"}),
            // No name, no language, no sign-up date; a code nobody has.
            json!({"chat_id": "1005", "name": null, "balance": 0, "lang_code": null, "reg_date": null,
                   "referral_source": "ref_NOSUCH"}),
            // The same person twice: "01006" comes first (by chat_id) and is kept.
            json!({"chat_id": "01006", "name": "Fay (old)", "balance": 40, "reg_date": "2025-10-24T08:00:00"}),
            json!({"chat_id": "1006", "name": "Fay", "balance": 60, "reg_date": "2025-10-25T08:00:00"}),
            json!({"chat_id": "1007", "name": "Negative", "balance": -50, "reg_date": "2025-10-24T08:00:00"}),
            // A balance that is not the sum of its transactions (300).
            json!({"chat_id": "1008", "name": "Gleb", "balance": 500, "lang_code": "ru", "reg_date": "2025-10-24T08:00:00"}),
            // Her one transaction names an unknown partner: still hers in the legacy sums.
            json!({"chat_id": "1009", "name": "Hana", "balance": 5, "reg_date": "2025-10-24T08:00:00"}),
            json!({"chat_id": "abc_user", "name": "Not a chat id", "balance": 10}),
        ];
        let mut transactions = Vec::new();
        let mut next_tx = 1;
        let mut push = |client: &str, partner: Value, at: &str, total: Value, earned: i64, spent: i64, op: &str| {
            transactions.push(tx(next_tx, client, partner, at, total, (earned, spent), op));
            next_tx += 1;
        };
        // Anna: enrolment, a purchase with a fractional total, a redemption: 80 + 62 − 30 = 112.
        push("1001", json!(null), "2025-10-20T22:34:13.952359", json!(0), 80, 0, "enrollment_bonus");
        push("1001", json!("7001"), "2025-10-21T10:00:00", json!(1234.5), 62, 0, "accrual");
        push("1001", json!("7002"), "2025-10-22T10:00:00", json!(100), 0, 30, "redemption");
        // Bob: at a partner known only from an approved application, with an empty partner id too.
        push("1002", json!("7102"), "2025-10-23T10:00:00", json!(200), 10, 0, "accrual");
        push("1002", json!(""), "2025-10-23T11:00:00", json!(null), 5, 0, "enrollment_bonus");
        // Fay ("01006"): 40.
        push("1006", json!("7001"), "2025-10-24T10:00:00", json!(800), 40, 0, "accrual");
        // Gleb: 300, balance 500.
        push("1008", json!("7003"), "2025-10-24T10:00:00", json!(6000), 300, 0, "accrual");
        // Bad ones: an unknown customer, an unknown partner, a skipped customer.
        push("VIA_PARTNER_79834276355", json!("7001"), "2025-10-25T10:00:00", json!(0), 80, 0, "enrollment_bonus");
        push("1009", json!("partner_nail_001"), "2025-10-25T10:00:00", json!(100), 5, 0, "accrual");
        push("1007", json!("7001"), "2025-10-25T10:00:00", json!(100), 5, 0, "accrual");

        let mut g = Gen(7);
        let langs = [json!("ru"), json!("en"), json!("vi"), json!("de"), json!(null)];
        for i in 0..generated {
            let id = (FIRST_GENERATED + i).to_string();
            let mut balance = 0;
            for k in 0..g.next(4) {
                let earned = 1 + g.next(300) as i64;
                let spent = if k > 0 { g.next(earned as u64) as i64 } else { 0 };
                balance += earned - spent;
                let partner = ["7001", "7002", "7004", "7005"][g.next(4) as usize];
                let total = json!(earned * 20 + g.next(100) as i64);
                let day = 1 + g.next(28);
                let at = format!("2025-09-{day:02}T{:02}:{:02}:00", g.next(24), g.next(60));
                push(&id, json!(partner), &at, total, earned, spent, if spent > 0 { "redemption" } else { "accrual" });
            }
            users.push(json!({
                "chat_id": id, "name": format!("Customer {i}"), "balance": balance,
                "lang_code": langs[(i % 5) as usize], "reg_date": format!("2025-08-{:02}T12:00:00", 1 + i % 28),
                "referral_code": format!("C{i}"),
                // Every tenth is referred by the customer before it, by code.
                "referral_source": if i % 10 == 9 { json!(format!("ref_C{}", i - 1)) } else { json!(null) },
            }));
        }
        users.sort_by(|a, b| a["chat_id"].as_str().cmp(&b["chat_id"].as_str()));

        let mut partners = vec![
            json!({"chat_id": "7001", "name": "Anna Ivanova", "company_name": "Nail Studio", "business_type": "nail_care",
                   "is_active": true, "created_at": "2025-11-07T09:23:55.9033+00:00", "city": "Moscow"}),
            json!({"chat_id": "7002", "name": "Hair", "company_name": null, "business_type": null, "is_active": true,
                   "created_at": "2025-11-06T18:44:45+00:00"}),
            json!({"chat_id": "7003", "name": "Closed", "company_name": "Closed Cafe", "business_type": "cafe",
                   "is_active": false, "created_at": "2025-10-01T00:00:00+00:00"}),
            json!({"chat_id": "7004", "name": "Four", "company_name": "Four", "is_active": true,
                   "created_at": "2025-10-02T00:00:00+00:00"}),
            json!({"chat_id": "7005", "name": "Five", "company_name": "Five", "is_active": true,
                   "created_at": "2025-10-03T00:00:00+00:00"}),
            json!({"chat_id": "partner_nail_001", "name": "Test", "company_name": "Test salon", "is_active": true,
                   "created_at": "2025-11-07T09:23:55.9033+00:00"}),
        ];
        partners.sort_by(|a, b| a["chat_id"].as_str().cmp(&b["chat_id"].as_str()));
        let applications = vec![
            json!({"id": 1, "chat_id": "7001", "name": "Anna Ivanova", "company_name": "Nail Studio", "status": "Approved",
                   "created_at": "2025-11-06T17:31:40.243446"}),
            json!({"id": 2, "chat_id": "7101", "name": "Pending Pat", "company_name": "Pat's", "status": "Pending",
                   "business_type": "yoga", "created_at": "2025-11-08T10:00:00"}),
            json!({"id": 3, "chat_id": "7102", "name": "Approved Al", "company_name": null, "status": "approved",
                   "created_at": "2025-11-08T11:00:00"}),
            json!({"id": 4, "chat_id": "7103", "name": "Rejected Ros", "company_name": "Ros", "status": "REJECTED",
                   "created_at": "2025-11-08T12:00:00"}),
        ];
        let services = vec![
            json!({"id": 1, "partner_chat_id": "7001", "title": "Manicure", "price_points": 500, "is_active": true,
                   "approval_status": "Approved"}),
            json!({"id": 2, "partner_chat_id": "7002", "title": "Haircut", "price_points": 800, "is_active": true,
                   "approval_status": "Pending"}),
        ];
        Legacy { users, partners, applications, transactions, services }
    }

    /// `backup_database.py`'s file of this data.
    pub(crate) fn backup_json(&self) -> String {
        let table = |name: &str, rows: &[Value]| json!({"table": name, "timestamp": "20251115_165410", "count": rows.len(), "data": rows});
        json!({
            "timestamp": "20251115_165410",
            "datetime": "2025-11-15T16:54:10.263587",
            "tables": {
                "users": table("users", &self.users),
                "partners": table("partners", &self.partners),
                "transactions": table("transactions", &self.transactions),
                "partner_applications": table("partner_applications", &self.applications),
                "services": table("services", &self.services),
                "news": table("news", &[]),
            }
        })
        .to_string()
    }

    pub(crate) fn user_mut(&mut self, chat_id: &str) -> &mut Value {
        self.users.iter_mut().find(|u| u["chat_id"] == chat_id).unwrap()
    }
}

/// A legacy database on the test server, dropped by [`LegacyDb::drop_db`].
pub(crate) struct LegacyDb {
    pub(crate) db: Database,
}

impl LegacyDb {
    /// A fresh database with `ddl`, filled with `data`.
    pub(crate) async fn new(ddl: &str, data: &Legacy) -> LegacyDb {
        let db = Database::empty().await;
        db.client().await.batch_execute(ddl).await.expect("the legacy DDL");
        let legacy = LegacyDb { db };
        legacy.fill(data).await;
        legacy
    }

    /// Replaces every table's rows with `data`'s (columns a table lacks are dropped).
    pub(crate) async fn fill(&self, data: &Legacy) {
        let client = self.db.client().await;
        for (table, rows) in [
            ("users", &data.users),
            ("partners", &data.partners),
            ("partner_applications", &data.applications),
            ("transactions", &data.transactions),
            ("services", &data.services),
        ] {
            let sql = format!(
                "delete from {table}; \
                 insert into {table} select * from jsonb_populate_recordset(null::{table}, $1::text::jsonb)"
            );
            let (delete, insert) = sql.split_once("; ").unwrap();
            client.execute(delete, &[]).await.unwrap();
            let rows = Value::Array(rows.clone()).to_string();
            client.execute(insert, &[&rows]).await.unwrap_or_else(|e| panic!("fill {table}: {e:?}"));
        }
    }

    pub(crate) fn url(&self) -> String {
        self.db.url()
    }

    pub(crate) async fn drop_db(self) {
        self.db.drop_db().await;
    }
}

// ---------------------------------------------------------------------------
// The binary

/// The `loyalty` binary with only `vars` in its environment, and `args`.
pub(crate) fn loyalty(vars: &[(&str, &str)], args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_loyalty"));
    cmd.env_clear().env("LOG_LEVEL", "warn").args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// Runs `cmd` off the async runtime and returns its output.
pub(crate) async fn run(cmd: std::process::Command) -> std::process::Output {
    let mut cmd = cmd;
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}

/// Output bytes as text.
pub(crate) fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}
