//! A use case call rendered as SQL text (`d1::render_batch`) does on SQLite what
//! the same batch does with the request bound as `?1`.
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
