//! `migrations/0001_loyalty.sql` (for `wrangler d1 migrations apply`) is the
//! schema `D1Store` creates on first use, `loyalty_core::stores::d1::SCHEMA`,
//! as of schema 12; each later file is generated from the core too. A shipped
//! migration is never rewritten: after changing the schema, add a migration
//! (and its generator) and write it with
//! `LOYALTY_WRITE_MIGRATION=1 cargo test -p loyalty-edge --test d1_migration`.

use loyalty_core::stores::d1;

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/0001_loyalty.sql");

#[test]
fn the_shipped_migration_is_the_schema() {
    if std::env::var_os("LOYALTY_WRITE_MIGRATION").is_some_and(|v| v == "1") {
        std::fs::write(PATH, d1::migration()).expect("write the migration");
    }
    let shipped = std::fs::read_to_string(PATH).expect("read the migration");
    assert!(
        shipped == d1::migration(),
        "{PATH} differs from loyalty_core::stores::d1::migration (the schema as of version 12)"
    );
}

/// `migrations/0002_bot_updates.sql` brings a database made by an older 0001
/// to the schema: the tables it creates are the schema's own statements.
#[test]
fn the_second_migration_creates_what_the_schema_has() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/0002_bot_updates.sql");
    let text = std::fs::read_to_string(path).expect("read the migration");
    let statements: Vec<String> = text
        .split(';')
        .map(|s| s.lines().filter(|l| !l.starts_with("--")).collect::<Vec<_>>().join("\n").trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let creates: Vec<&String> = statements.iter().filter(|s| s.starts_with("CREATE")).collect();
    assert_eq!(creates.len(), 2, "{statements:?}");
    for create in creates {
        assert!(d1::SCHEMA.contains(&create.as_str()), "{create} is not in loyalty_core::stores::d1::SCHEMA");
    }
    assert!(statements.iter().any(|s| s == "DROP TABLE IF EXISTS loyalty_update_claims"), "{statements:?}");
}

/// The shipped `migrations/<file>` is `generated`, the text of `function`
/// (rewritten first with `LOYALTY_WRITE_MIGRATION=1`); returns it.
fn shipped_is_generated(file: &str, generated: String, function: &str) -> String {
    let path = format!("{}/migrations/{file}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("LOYALTY_WRITE_MIGRATION").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).expect("write the migration");
    }
    let shipped = std::fs::read_to_string(&path).expect("read the migration");
    assert!(shipped == generated, "{path} differs from loyalty_core::stores::d1::{function}; regenerate it");
    shipped
}

/// `migrations/0003_import_kinds.sql` is `d1::entries_upgrade` (regenerate as above).
#[test]
fn the_third_migration_is_the_entries_upgrade() {
    shipped_is_generated("0003_import_kinds.sql", d1::entries_upgrade_migration(), "entries_upgrade_migration");
}

/// `migrations/0004_rules_and_lots.sql` is `d1::entries_upgrade` with the
/// rules and the lots (regenerate as above).
#[test]
fn the_fourth_migration_is_the_rules_upgrade() {
    shipped_is_generated("0004_rules_and_lots.sql", d1::rules_upgrade_migration(), "rules_upgrade_migration");
}

/// `migrations/0005_job_state.sql` creates the jobs' states table of the
/// schema (regenerate as above).
#[test]
fn the_fifth_migration_is_the_job_state_table() {
    let shipped = shipped_is_generated("0005_job_state.sql", d1::job_state_migration(), "job_state_migration");
    assert!(shipped.contains("CREATE TABLE IF NOT EXISTS loyalty_job_state"), "{shipped}");
}

/// `migrations/0006_outbox.sql` creates the outbox and the kept update bodies
/// of the schema (regenerate as above).
#[test]
fn the_sixth_migration_is_the_outbox() {
    let shipped = shipped_is_generated("0006_outbox.sql", d1::outbox_migration(), "outbox_migration");
    assert!(shipped.contains("CREATE TABLE IF NOT EXISTS loyalty_outbox"), "{shipped}");
    assert!(shipped.contains("CREATE TABLE IF NOT EXISTS loyalty_update_bodies"), "{shipped}");
}

/// `migrations/0007_rewards.sql` creates the rewards catalogue and its
/// vouchers of the schema (regenerate as above).
#[test]
fn the_seventh_migration_is_the_rewards_catalogue() {
    let shipped = shipped_is_generated("0007_rewards.sql", d1::rewards_migration(), "rewards_migration");
    assert!(shipped.contains("CREATE TABLE IF NOT EXISTS loyalty_vouchers"), "{shipped}");
}

/// `migrations/0008_personal_data.sql` rebuilds the audit log for erasures
/// and indexes the pending redemption requests by customer (regenerate as above).
#[test]
fn the_eighth_migration_is_the_personal_data() {
    let shipped =
        shipped_is_generated("0008_personal_data.sql", d1::personal_data_migration(), "personal_data_migration");
    assert!(shipped.contains("'erased'"), "{shipped}");
    assert!(shipped.contains("loyalty_redemptions_pending_by_customer"), "{shipped}");
}

/// `migrations/0009_stamps.sql` creates the stamp cards' tables of the schema
/// (regenerate as above).
#[test]
fn the_ninth_migration_is_the_stamp_cards() {
    let shipped = shipped_is_generated("0009_stamps.sql", d1::stamps_migration(), "stamps_migration");
    assert!(shipped.contains("CREATE TABLE IF NOT EXISTS loyalty_stamp_visits"), "{shipped}");
}

/// `migrations/0010_staff.sql` creates the staff's tables of the schema
/// (regenerate as above).
#[test]
fn the_tenth_migration_is_the_staff() {
    let shipped = shipped_is_generated("0010_staff.sql", d1::staff_migration(), "staff_migration");
    assert!(shipped.contains("CREATE TABLE IF NOT EXISTS loyalty_staff ("), "{shipped}");
    assert!(shipped.contains("CREATE TABLE IF NOT EXISTS loyalty_entry_cashiers"), "{shipped}");
    assert!(shipped.contains("CREATE UNIQUE INDEX IF NOT EXISTS loyalty_staff_active"), "{shipped}");
}

/// `migrations/0011_webhooks.sql` creates the webhook endpoints' table of the
/// schema (regenerate as above).
#[test]
fn the_eleventh_migration_is_the_webhooks() {
    let shipped = shipped_is_generated("0011_webhooks.sql", d1::webhooks_migration(), "webhooks_migration");
    assert!(shipped.contains("CREATE TABLE IF NOT EXISTS loyalty_webhooks ("), "{shipped}");
    assert!(shipped.contains("CREATE INDEX IF NOT EXISTS loyalty_webhooks_active"), "{shipped}");
}

/// `migrations/0012_webhook_keys.sql` rebuilds the webhook endpoints' table
/// with registrations' keys and their unique index per owner (regenerate as above).
#[test]
fn the_twelfth_migration_is_the_webhook_keys() {
    let shipped = shipped_is_generated("0012_webhook_keys.sql", d1::webhook_keys_migration(), "webhook_keys_migration");
    assert!(shipped.contains("    idempotency_key TEXT "), "{shipped}");
    assert!(shipped.contains("CREATE UNIQUE INDEX IF NOT EXISTS loyalty_webhooks_by_key"), "{shipped}");
    assert!(shipped.contains("DROP TABLE loyalty_webhooks_before_keys"), "{shipped}");
    // The shipped files before it keep their text: the table without keys.
    assert!(!d1::migration().contains("loyalty_webhooks_by_key"));
    assert!(!d1::webhooks_migration().contains("idempotency_key"));
}

/// `migrations/0013_partner_days.sql` creates the partners' running totals of
/// the day (regenerate as above).
#[test]
fn the_thirteenth_migration_is_the_partner_days() {
    let shipped = shipped_is_generated("0013_partner_days.sql", d1::partner_days_migration(), "partner_days_migration");
    assert!(shipped.contains("CREATE TABLE IF NOT EXISTS loyalty_partner_days ("), "{shipped}");
    // The shipped files before it keep their text.
    assert!(!d1::migration().contains("loyalty_partner_days"));
}

/// `migrations/0014_lots_walk.sql` replaces the trigger that takes a negative
/// entry's points from the lots by the walk (regenerate as above).
#[test]
fn the_fourteenth_migration_is_the_lots_walk() {
    let shipped = shipped_is_generated("0014_lots_walk.sql", d1::lots_walk_migration(), "lots_walk_migration");
    assert!(shipped.contains("DROP TRIGGER IF EXISTS loyalty_entries_lot_take;"), "{shipped}");
    assert!(shipped.contains("WITH RECURSIVE walk"), "{shipped}");
    // The shipped files before it keep their text: the running sum over every open lot.
    for older in [d1::migration(), d1::rules_upgrade_migration(), d1::entries_upgrade_migration()] {
        assert!(!older.contains("WITH RECURSIVE walk") && older.contains("ROWS BETWEEN UNBOUNDED PRECEDING"));
    }
}
