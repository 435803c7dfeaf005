//! A use case call rendered as SQL text (`d1::render_batch`) does on SQLite what
//! the same batch does with the request bound as `?1`; schema 15's trigger
//! taking a negative entry's points from the lots does what schema 14's did.
#![cfg(feature = "sqlite")]

use loyalty_core::domain::*;
use loyalty_core::ports::NewCustomer;
use loyalty_core::stores::d1;
use rusqlite::Connection;

fn database() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    for statement in d1::SCHEMA {
        conn.execute_batch(statement).unwrap();
    }
    conn
}

/// The last row of `statements`, each run with `args` bound as far as it takes them.
fn run(conn: &Connection, statements: &[String], request: Option<&str>) -> (Option<String>, Option<String>) {
    let (last, body) = statements.split_last().unwrap();
    let args: Vec<&str> = request.into_iter().collect();
    for s in body {
        conn.execute(s, rusqlite::params_from_iter(&args[..d1::bindings(s).min(args.len())])).unwrap();
    }
    conn.query_row(last, rusqlite::params_from_iter(&args[..d1::bindings(last).min(args.len())]), |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .unwrap()
}

#[test]
fn a_rendered_call_answers_as_the_bound_batch() {
    let names = ["O'Brien", r"back\slash \n", "Ёжик 🦔 ?1 '?1'", "'; DROP TABLE loyalty_customers; --"];
    for (i, name) in names.iter().enumerate() {
        let request = serde_json::to_string(&NewCustomer {
            telegram_id: TelegramUserId(100 + i as i64),
            code: CustomerCode::from_random([1, 2, 3, 4, i as u8]),
            first_name: (*name).into(),
            username: Some(format!("u{i}'x")),
            language: Language::Ru,
            referrer: None,
            legacy_referrer: None,
            via_partner: None,
            welcome_bonus: 10,
            referral_bonus: 0,
            now: Timestamp(1_795_000_000),
        })
        .unwrap();
        let (bound, rendered) = (database(), database());
        let plain: Vec<String> = d1::batch("register_customer").unwrap().into_iter().map(str::to_owned).collect();
        let text = d1::render_batch("register_customer", &request).unwrap();
        let expected = run(&bound, &plain, Some(&request));
        assert_eq!(run(&rendered, &text, None), expected, "{name}");
        let answer: serde_json::Value = d1::decode(
            "register_customer",
            Some(d1::Outcome { answer: expected.0.clone(), fault: expected.1.clone() }),
        )
        .unwrap();
        assert_eq!(answer["customer"]["first_name"], *name, "{answer}");
        // As one script too, the way a file runs.
        let script = database();
        script.execute_batch(&(text.join(";\n") + ";")).unwrap();
        let stored: String = script.query_row("SELECT first_name FROM loyalty_customers", [], |r| r.get(0)).unwrap();
        assert_eq!(stored, *name);
    }
}

/// Schema 15's lots' walk (`d1::lots_walk_upgrade`) takes the same points from
/// the same lots as schema 14's running sum over every open lot (the trigger
/// of the shipped `0001_loyalty.sql`), on 3 000 pseudo-random sets of lots —
/// dated and undated, partly spent or spent, another customer's, with and
/// without an entry — and negative entries: debits, reversals of entries with
/// and without a lot, more points asked than the lots hold.
#[test]
fn the_lots_walk_takes_what_the_running_sum_took() {
    let shipped = d1::migration();
    let start = shipped.find("CREATE TRIGGER IF NOT EXISTS loyalty_entries_lot_take").expect("schema 14's trigger");
    let old = &shipped[start..start + shipped[start..].find("\nEND;").expect("its end") + 4];
    let [_, new] = d1::lots_walk_upgrade();
    let open_index = d1::SCHEMA.iter().find(|s| s.contains(" loyalty_lots_open ")).expect("the open lots' index");
    let tables = "CREATE TABLE loyalty_lots (id INTEGER PRIMARY KEY, customer INTEGER NOT NULL, entry INTEGER UNIQUE, \
                  amount INTEGER NOT NULL, remaining INTEGER NOT NULL, expires_at INTEGER);
                  CREATE TABLE loyalty_lot_uses (entry INTEGER NOT NULL, lot INTEGER NOT NULL, \
                  points INTEGER NOT NULL CHECK (points > 0), PRIMARY KEY (entry, lot)) WITHOUT ROWID;
                  CREATE TABLE loyalty_entries (id INTEGER PRIMARY KEY, customer INTEGER NOT NULL, \
                  kind TEXT NOT NULL, amount INTEGER NOT NULL, reverses INTEGER);";
    // xorshift64: the same cases on every run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    type Lot = (i64, i64, Option<i64>, i64, i64, Option<i64>);
    let play = |trigger: &str, lots: &[Lot], entries: &[(i64, i64, i64, Option<i64>)]| {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(tables).unwrap();
        conn.execute_batch(open_index).unwrap();
        conn.execute_batch(trigger).unwrap();
        for lot in lots {
            conn.execute(
                "INSERT INTO loyalty_lots (id, customer, entry, amount, remaining, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![lot.0, lot.1, lot.2, lot.3, lot.4, lot.5],
            )
            .unwrap();
        }
        let mut taken = Vec::new();
        for (id, customer, amount, reverses) in entries {
            let inserted = conn.execute(
                "INSERT INTO loyalty_entries (id, customer, kind, amount, reverses) VALUES (?1, ?2, 'redemption', ?3, ?4)",
                rusqlite::params![id, customer, amount, reverses],
            );
            // More points asked than the lots hold: both refuse the entry.
            if let Err(e) = inserted {
                taken.push(Err(e.to_string()));
                continue;
            }
            let mut uses =
                conn.prepare("SELECT lot, points FROM loyalty_lot_uses WHERE entry = ?1 ORDER BY lot").unwrap();
            let uses: Vec<(i64, i64)> =
                uses.query_map([id], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
            taken.push(Ok(uses));
        }
        let mut left = conn.prepare("SELECT id, remaining FROM loyalty_lots ORDER BY id").unwrap();
        let left: Vec<(i64, i64)> =
            left.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
        (taken, left)
    };
    let (mut walked, mut reversals, mut refused) = (0, 0, 0);
    for case in 0..3_000 {
        let mut lots: Vec<Lot> = Vec::new();
        for id in 1..=(1 + next(12) as i64) {
            let amount = 1 + next(9) as i64;
            let remaining = if next(3) == 0 { next(amount as u64 + 1) as i64 } else { amount };
            let entry = (next(2) == 0).then_some(500 + id);
            let expires_at = (next(3) != 0).then(|| 1 + next(5) as i64);
            lots.push((id, 1 + next(3) as i64 / 2, entry, amount, remaining, expires_at));
        }
        let with_lots: Vec<i64> = lots.iter().filter_map(|l| l.2).collect();
        let entries: Vec<(i64, i64, i64, Option<i64>)> = (0..1 + next(5) as i64)
            .map(|i| {
                let reverses = match next(4) {
                    0 if !with_lots.is_empty() => Some(with_lots[next(with_lots.len() as u64) as usize]),
                    1 => Some(9_999),
                    _ => None,
                };
                (1_000 + i, 1 + next(2) as i64, -(1 + next(15) as i64), reverses)
            })
            .collect();
        reversals += entries.iter().filter(|e| e.3.is_some()).count();
        let (before, after) = (play(old, &lots, &entries), play(new, &lots, &entries));
        walked += after.0.iter().filter(|uses| uses.as_ref().is_ok_and(|u| u.len() > 1)).count();
        refused += after.0.iter().filter(|uses| uses.is_err()).count();
        assert_eq!(after, before, "case {case}: lots {lots:?}, entries {entries:?}");
    }
    // The cases reach what they are meant to: entries taken from several lots, reversals, refusals.
    assert!(
        walked > 1_000 && reversals > 1_000 && refused > 100,
        "{walked} walks over several lots, {reversals} reversals, {refused} refusals"
    );
}
