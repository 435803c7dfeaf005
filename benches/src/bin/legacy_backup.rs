//! Writes a realistic `backup_database.py` file of the legacy Python program
//! at scale, for `scripts/import-scale.sh` (`loyalty import legacy
//! --from-backup`; docs/PERFORMANCE.md).
//!
//! ```sh
//! cargo run --release -p loyalty-benches --bin legacy_backup -- OUT.json \
//!     [--customers 100000] [--per-customer 10] [--seed 1]
//! ```
//!
//! Deterministic: the same arguments give the same file, byte for byte. What
//! it holds:
//!
//! - `customers` users signing up over 600 days (Telegram ids growing with
//!   time), with phones, usernames, languages (`ru` most, then `en`, `vi`, a
//!   few others and none), birthdays, referral codes; one in five referred by
//!   an earlier customer (by chat id or by `ref_<code>`), some via a partner;
//! - `customers × per-customer` transactions in time order, more of them for
//!   customers who signed up early and for a few regulars (some customers
//!   have none): a welcome bonus first for half of them, then accruals (5 %
//!   of the purchase) and redemptions that never take a balance below zero;
//!   each balance is the sum of its transactions except for one customer in
//!   a thousand (a manual correction in the legacy program);
//! - 50 partners (5 of them inactive), their applications plus pending,
//!   rejected and approved-without-a-partner ones, and three services each;
//! - a few bad rows the import skips and lists: a user and a partner whose
//!   chat id is not a number, a negative and a fractional balance, the same
//!   chat id twice, transactions of an unknown customer or partner, a date
//!   that cannot be read.

// A command-line tool: its summary goes to stdout, its errors to stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use loyalty_core::domain::Timestamp;
use serde_json::{Value, json};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

/// Partners in the file (before the bad one).
const PARTNERS: usize = 50;
/// The first sign-up: 2024-03-01 00:00 UTC.
const START: i64 = 1_709_251_200;
/// Sign-ups and transactions spread over this many seconds (600 days).
const SPAN: i64 = 600 * 86_400;
/// The backup's time (after the last transaction).
const BACKUP_TIME: &str = "20251115_165410";

/// SplitMix64: small, seeded, the same on every platform.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0; the modulo bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent` / 100.
    fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// Uniform in `0.0..1.0`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The command line.
struct Args {
    out: String,
    customers: usize,
    per_customer: usize,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { out: String::new(), customers: 100_000, per_customer: 10, seed: 1 };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            let v = it.next().ok_or_else(|| format!("{name} needs a value"))?;
            v.parse().map_err(|_| format!("{name} {v}: not a number"))
        };
        match arg.as_str() {
            "--customers" => args.customers = number("--customers")? as usize,
            "--per-customer" => args.per_customer = number("--per-customer")? as usize,
            "--seed" => args.seed = number("--seed")?,
            "-h" | "--help" => return Err(String::new()),
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other if args.out.is_empty() => args.out = other.to_owned(),
            other => return Err(format!("one output file only ({other})")),
        }
    }
    if args.out.is_empty() {
        return Err("the output file is missing".into());
    }
    if args.customers == 0 {
        return Err("--customers must be at least 1".into());
    }
    Ok(args)
}

/// `YYYY-MM-DDTHH:MM:SS.ffffff`, as PostgreSQL's `timestamp` comes out of the Data API.
fn local_time(t: i64, micros: u64) -> String {
    let minutes = Timestamp(t).utc_minutes().replacen(' ', "T", 1);
    format!("{minutes}:{:02}.{micros:06}", t.rem_euclid(60))
}

/// A `timestamptz`: `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`.
fn utc_time(t: i64, micros: u64) -> String {
    format!("{}+00:00", local_time(t, micros))
}

/// One customer as planned.
struct Customer {
    chat_id: i64,
    reg: i64,
    /// The partner the customer came through, if any.
    via_partner: Option<usize>,
    /// The earlier customer who referred this one.
    referrer: Option<usize>,
    balance: i64,
    spent: i64,
    money: i64,
    transactions: u32,
    last: i64,
}

/// One transaction as planned (`partner` `None`: an empty partner id).
struct Tx {
    customer: u32,
    partner: Option<u16>,
    at: i64,
    /// The purchase, in kopecks.
    total: i64,
    earned: i64,
    spent: i64,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    Welcome,
    Accrual,
    Redemption,
}

impl Kind {
    fn operation(self) -> &'static str {
        match self {
            Kind::Welcome => "enrollment_bonus",
            Kind::Accrual => "accrual",
            Kind::Redemption => "redemption",
        }
    }
}

/// Rubles from kopecks, as a JSON number (`1234.5`, `800`).
fn rubles(kopecks: i64) -> Value {
    if kopecks % 100 == 0 { json!(kopecks / 100) } else { json!(kopecks as f64 / 100.0) }
}

/// Everything the file holds, planned before it is written.
struct Data {
    customers: Vec<Customer>,
    transactions: Vec<Tx>,
    partners: Vec<i64>,
}

fn plan(args: &Args, rng: &mut Rng) -> Data {
    let n = args.customers;
    // Sign-ups in time order; Telegram ids grow with time, with gaps.
    let mut chat_id = 180_000_000_i64;
    let slot = SPAN / n as i64;
    let partners: Vec<i64> =
        (0..PARTNERS).map(|i| 5_000_000_000 + i as i64 * 7_919 + rng.below(7_919) as i64).collect();
    let mut customers = Vec::with_capacity(n);
    for i in 0..n {
        chat_id += 1 + rng.below(120) as i64;
        let reg = START + i as i64 * slot + rng.below(slot.max(1) as u64) as i64;
        let via_partner = rng.percent(15).then(|| rng.below(PARTNERS as u64) as usize);
        let referrer = (i > 0 && via_partner.is_none() && rng.percent(20)).then(|| rng.below(i as u64) as usize);
        customers.push(Customer {
            chat_id,
            reg,
            via_partner,
            referrer,
            balance: 0,
            spent: 0,
            money: 0,
            transactions: 0,
            last: reg,
        });
    }

    // Transactions in time order, as many as customers have signed up by then
    // (the share of them before time x is x², so a customer gets about
    // `per_customer` on average): one in ten goes to a regular (every
    // twentieth customer), the others to anyone signed up.
    let total = n * args.per_customer;
    let mut transactions = Vec::with_capacity(total);
    for j in 0..total {
        let x = ((j as f64 + rng.unit()) / total as f64).sqrt();
        let signed_up = ((x * n as f64) as usize).clamp(1, n);
        let at_least = START + (x * SPAN as f64) as i64;
        let who = if signed_up >= 20 && rng.percent(10) {
            rng.below(signed_up as u64 / 20) as usize * 20
        } else {
            rng.below(signed_up as u64) as usize
        };
        let c = &mut customers[who];
        let at = at_least.max(c.last + 60 + rng.below(3_600) as i64);
        let home = c.via_partner;
        let partner =
            |rng: &mut Rng| home.filter(|_| rng.percent(60)).unwrap_or_else(|| rng.below(PARTNERS as u64) as usize);
        let tx = if c.transactions == 0 && rng.percent(50) {
            Tx {
                customer: who as u32,
                partner: home.map(|p| p as u16),
                at,
                total: 0,
                earned: 80,
                spent: 0,
                kind: Kind::Welcome,
            }
        } else if c.balance >= 100 && rng.percent(25) {
            let spent = c.balance / 4 + rng.below((c.balance - c.balance / 4) as u64 + 1) as i64;
            let total = spent * 100 + rng.below(300_000) as i64 * 10;
            Tx {
                customer: who as u32,
                partner: Some(partner(rng) as u16),
                at,
                total,
                earned: 0,
                spent,
                kind: Kind::Redemption,
            }
        } else {
            // 200–15 000 ₽, whole rubles mostly, sometimes 50 kopecks.
            let total = (200 + rng.below(14_800) as i64) * 100 + if rng.percent(10) { 50 } else { 0 };
            let earned = (total / 100 * 5 / 100).max(1);
            Tx {
                customer: who as u32,
                partner: Some(partner(rng) as u16),
                at,
                total,
                earned,
                spent: 0,
                kind: Kind::Accrual,
            }
        };
        c.balance += tx.earned - tx.spent;
        c.spent += tx.spent;
        c.money += tx.total;
        c.transactions += 1;
        c.last = at;
        transactions.push(tx);
    }
    // Manual corrections in the legacy program: the balance is not the sum.
    for c in customers.iter_mut().step_by(1000).skip(1) {
        c.balance += 50;
    }
    Data { customers, transactions, partners }
}

const FIRST_NAMES: [&str; 12] = [
    "Анна",
    "Мария",
    "Иван",
    "Ольга",
    "Дмитрий",
    "Екатерина",
    "John",
    "Emily",
    "Nguyễn Văn An",
    "Trần Thị Bình",
    "Lê Minh",
    "Алексей",
];
const CITIES: [&str; 4] = ["Москва", "Санкт-Петербург", "Nha Trang", "Hà Nội"];
const BUSINESS: [&str; 8] =
    ["nail_care", "hair_salon", "cafe", "restaurant", "fitness", "spa", "massage", "barbershop"];

/// The user row of customer `i`.
fn user(data: &Data, i: usize, rng: &mut Rng) -> Value {
    let c = &data.customers[i];
    let lang = match rng.below(100) {
        0..60 => json!("ru"),
        60..75 => json!("en"),
        75..78 => json!("en-US"),
        78..93 => json!("vi"),
        93..96 => json!("uk"),
        96..98 => json!("de"),
        _ => Value::Null,
    };
    let (referral_source, referred_by, registered_via) = match (c.via_partner, c.referrer) {
        (Some(p), _) => (json!(format!("partner_{}", data.partners[p])), Value::Null, "partner"),
        (None, Some(r)) if rng.percent(50) => {
            (json!(format!("ref_{}", referral_code(data.customers[r].chat_id))), Value::Null, "referral")
        }
        (None, Some(r)) => (Value::Null, json!(data.customers[r].chat_id.to_string()), "referral"),
        (None, None) => (Value::Null, Value::Null, "bot"),
    };
    let name =
        if rng.percent(3) { Value::Null } else { json!(FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize]) };
    let birthday =
        rng.percent(30).then(|| format!("{}-{:02}-{:02}", 1960 + rng.below(45), 1 + rng.below(12), 1 + rng.below(28)));
    json!({
        "chat_id": c.chat_id.to_string(),
        "phone": rng.percent(70).then(|| format!("+79{:09}", c.chat_id % 1_000_000_000)),
        "name": name,
        "balance": c.balance,
        "status": "active",
        "city": CITIES[rng.below(CITIES.len() as u64) as usize],
        "district": Value::Null,
        "reg_date": local_time(c.reg, rng.below(1_000_000)),
        "last_visit": local_time(c.last, rng.below(1_000_000)),
        "registered_via": registered_via,
        "referral_source": referral_source,
        "total_bonus_spent": c.spent,
        "total_money_spent": rubles(c.money),
        "lang_code": lang,
        "referral_code": referral_code(c.chat_id),
        "referred_by_chat_id": referred_by,
        "birthday": birthday,
        "username": rng.percent(60).then(|| format!("user_{:x}", c.chat_id)),
    })
}

/// A customer's referral code, unique because the chat id is.
fn referral_code(chat_id: i64) -> String {
    format!("R{chat_id:X}")
}

/// The transaction row `id` of `tx`.
fn transaction(data: &Data, id: usize, tx: &Tx) -> Value {
    let c = &data.customers[tx.customer as usize];
    let partner = tx.partner.map_or_else(String::new, |p| data.partners[p as usize].to_string());
    let description = match tx.kind {
        Kind::Welcome => "Приветственный бонус".to_owned(),
        Kind::Accrual => format!("Начисление 5% от покупки {} ₽", rubles(tx.total)),
        Kind::Redemption => format!("Списание {} баллов", tx.spent),
    };
    json!({
        "id": id,
        "client_chat_id": c.chat_id.to_string(),
        "partner_chat_id": partner,
        "date_time": local_time(tx.at, (id as u64 * 7_919) % 1_000_000),
        "total_amount": rubles(tx.total),
        "earned_points": tx.earned,
        "spent_points": tx.spent,
        "operation_type": tx.kind.operation(),
        "description": description,
    })
}

/// Writes `"name": {"table", "timestamp", "count", "data": [rows…]}`.
fn table(out: &mut impl Write, name: &str, rows: impl ExactSizeIterator<Item = Value>) -> std::io::Result<()> {
    let count = rows.len();
    write!(
        out,
        "\"{name}\": {{\"table\": \"{name}\", \"timestamp\": \"{BACKUP_TIME}\", \"count\": {count}, \"data\": ["
    )?;
    for (k, row) in rows.enumerate() {
        out.write_all(if k == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut *out, &row)?;
    }
    out.write_all(b"\n]}")
}

fn write(args: &Args, data: &Data, rng: &mut Rng) -> std::io::Result<(usize, usize)> {
    let file = File::create(&args.out)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    writeln!(out, "{{\"timestamp\": \"{BACKUP_TIME}\", \"datetime\": \"2025-11-15T16:54:10.263587\", \"tables\": {{")?;

    // Users in sign-up order, with the bad rows among them.
    let n = data.customers.len();
    let mut users: Vec<Value> = (0..n).map(|i| user(data, i, rng)).collect();
    // The same chat id twice: the first (the customer's own row) is kept.
    let mut twin = users[n / 2].clone();
    twin["chat_id"] = json!(format!("0{}", twin["chat_id"].as_str().unwrap_or_default()));
    twin["balance"] = json!(1);
    twin["referral_code"] = Value::Null;
    let bad_user = |chat_id: &str, balance: Value| {
        json!({"chat_id": chat_id, "name": "Bad row", "balance": balance, "status": "active",
               "reg_date": "2025-06-01T12:00:00", "lang_code": "ru"})
    };
    users.insert(n / 5, bad_user("test_user_1", json!(100)));
    users.insert(2 * n / 5, bad_user("6100000001", json!(-20)));
    users.insert(3 * n / 5, bad_user("6100000002", json!(12.5)));
    users.insert(4 * n / 5 + 3, twin);
    let user_rows = users.len();
    table(&mut out, "users", users.into_iter())?;
    out.write_all(b",\n")?;

    let mut partners: Vec<Value> = data
        .partners
        .iter()
        .enumerate()
        .map(|(i, &chat_id)| {
            let created = START - 30 * 86_400 + i as i64 * 86_400 * 11;
            json!({
                "chat_id": chat_id.to_string(),
                "name": format!("{} (владелец)", FIRST_NAMES[i % FIRST_NAMES.len()]),
                "company_name": if i % 7 == 3 { Value::Null } else { json!(format!("Салон №{}", i + 1)) },
                "city": CITIES[i % CITIES.len()],
                "district": Value::Null,
                "business_type": if i % 9 == 4 { Value::Null } else { json!(BUSINESS[i % BUSINESS.len()]) },
                "is_active": i % 10 != 7,
                "created_at": utc_time(created, rng.below(1_000_000)),
            })
        })
        .collect();
    partners.push(json!({"chat_id": "partner_nail_001", "name": "Test", "company_name": "Test salon",
                         "is_active": true, "created_at": "2025-11-07T09:23:55.9033+00:00"}));
    table(&mut out, "partners", partners.into_iter())?;
    out.write_all(b",\n")?;

    // Transactions by id (time order); the bad ones spread among them.
    let total = data.transactions.len();
    let customer = |k: usize| data.customers[k.min(n - 1)].chat_id.to_string();
    let bad: [(usize, &dyn Fn(usize) -> Value); 6] = [
        (total / 7, &|id| {
            json!({"id": id, "client_chat_id": "VIA_PARTNER_79834276355", "partner_chat_id": data.partners[0].to_string(),
                   "date_time": "2025-01-10T10:00:00", "total_amount": 0, "earned_points": 80, "spent_points": 0,
                   "operation_type": "enrollment_bonus", "description": "Приветственный бонус"})
        }),
        (2 * total / 7, &|id| {
            json!({"id": id, "client_chat_id": "VIA_PARTNER_79161234567", "partner_chat_id": data.partners[1].to_string(),
                   "date_time": "2025-02-10T10:00:00", "total_amount": 0, "earned_points": 80, "spent_points": 0,
                   "operation_type": "enrollment_bonus", "description": "Приветственный бонус"})
        }),
        (3 * total / 7, &|id| {
            json!({"id": id, "client_chat_id": customer(0), "partner_chat_id": "partner_nail_001",
                   "date_time": "2025-03-10T10:00:00", "total_amount": 100, "earned_points": 5, "spent_points": 0,
                   "operation_type": "accrual", "description": "test"})
        }),
        (4 * total / 7, &|id| {
            json!({"id": id, "client_chat_id": customer(1), "partner_chat_id": "9999999999",
                   "date_time": "2025-04-10T10:00:00", "total_amount": 100, "earned_points": 5, "spent_points": 0,
                   "operation_type": "accrual", "description": "partner deleted"})
        }),
        (5 * total / 7, &|id| {
            json!({"id": id, "client_chat_id": customer(2), "partner_chat_id": data.partners[2].to_string(),
                   "date_time": "10.05.2025 10:00", "total_amount": 100, "earned_points": 5, "spent_points": 0,
                   "operation_type": "accrual", "description": "a date typed by hand"})
        }),
        (6 * total / 7, &|id| {
            json!({"id": id, "client_chat_id": "6100000001", "partner_chat_id": data.partners[3].to_string(),
                   "date_time": "2025-06-10T10:00:00", "total_amount": 400, "earned_points": 20, "spent_points": 0,
                   "operation_type": "accrual", "description": "of the negative balance"})
        }),
    ];
    let rows = TxRows { data, bad: &bad, next: 0, bad_next: 0, id: 0 };
    table(&mut out, "transactions", rows)?;
    out.write_all(b",\n")?;

    // Applications: one approved per partner, then pending, rejected, and
    // approved ones whose partner row is missing.
    let mut applications = Vec::new();
    let app = |applications: &mut Vec<Value>, chat_id: String, status: &str, business: &str| {
        let id = applications.len() + 1;
        applications.push(json!({
            "id": id, "chat_id": chat_id, "name": format!("Заявитель {id}"), "phone": format!("+7901{id:07}"),
            "company_name": format!("Компания {id}"), "city": CITIES[id % CITIES.len()], "district": Value::Null,
            "status": status, "created_at": local_time(START - 40 * 86_400 + id as i64 * 86_400 * 9, 0),
            "business_type": business,
        }));
    };
    for (i, p) in data.partners.iter().enumerate() {
        app(&mut applications, p.to_string(), "Approved", BUSINESS[i % BUSINESS.len()]);
    }
    for k in 0..8 {
        app(&mut applications, (5_900_000_000_i64 + k).to_string(), "Pending", "cafe");
    }
    for k in 8..12 {
        app(&mut applications, (5_900_000_000_i64 + k).to_string(), "Rejected", "fitness");
    }
    for k in 12..14 {
        app(&mut applications, (5_900_000_000_i64 + k).to_string(), "approved", "spa");
    }
    table(&mut out, "partner_applications", applications.into_iter())?;
    out.write_all(b",\n")?;

    let services: Vec<Value> = (0..PARTNERS * 3)
        .map(|k| {
            json!({
                "id": k + 1, "partner_chat_id": data.partners[k / 3].to_string(), "title": format!("Услуга {}", k + 1),
                "description": "—", "price_points": 100 * (1 + k % 10) as i64, "is_active": k % 11 != 0,
                "approval_status": if k % 5 == 0 { "Pending" } else { "Approved" },
            })
        })
        .collect();
    table(&mut out, "services", services.into_iter())?;
    out.write_all(b"\n}}\n")?;
    out.into_inner().map_err(std::io::IntoInnerError::into_error)?.sync_all()?;
    Ok((user_rows, total + bad.len()))
}

/// The transaction rows in id order: the planned ones with the bad ones
/// inserted at their positions.
struct TxRows<'a> {
    data: &'a Data,
    bad: &'a [(usize, &'a dyn Fn(usize) -> Value)],
    next: usize,
    bad_next: usize,
    id: usize,
}

impl Iterator for TxRows<'_> {
    type Item = Value;

    fn next(&mut self) -> Option<Value> {
        self.id += 1;
        if let Some((at, row)) = self.bad.get(self.bad_next)
            && *at == self.next
        {
            self.bad_next += 1;
            return Some(row(self.id));
        }
        let tx = self.data.transactions.get(self.next)?;
        self.next += 1;
        Some(transaction(self.data, self.id, tx))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.data.transactions.len() - self.next + self.bad.len() - self.bad_next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for TxRows<'_> {}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("legacy_backup: {e}");
            }
            eprintln!("usage: legacy_backup OUT.json [--customers N (100000)] [--per-customer N (10)] [--seed N (1)]");
            return ExitCode::from(2);
        }
    };
    let mut rng = Rng(args.seed);
    let data = plan(&args, &mut rng);
    match write(&args, &data, &mut rng) {
        Ok((users, transactions)) => {
            println!(
                "{}: {users} user rows ({} customers), {} partners, {transactions} transactions",
                args.out,
                data.customers.len(),
                data.partners.len() + 1,
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("legacy_backup: {}: {e}", args.out);
            ExitCode::FAILURE
        }
    }
}
