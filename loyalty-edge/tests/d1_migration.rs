//! `migrations/0001_loyalty.sql` (for `wrangler d1 migrations apply`) is the
//! schema `D1Store` creates on first use: `loyalty_core::stores::d1::SCHEMA`.

use loyalty_core::stores::d1;

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/0001_loyalty.sql");

#[test]
fn the_shipped_migration_is_the_schema() {
    let shipped = std::fs::read_to_string(PATH).expect("read the migration");
    assert!(
        shipped == d1::migration(),
        "{PATH} differs from loyalty_core::stores::d1::SCHEMA; regenerate it with \
         `cargo test -p loyalty-edge --test d1_migration -- --ignored`"
    );
}

#[test]
#[ignore = "rewrites migrations/0001_loyalty.sql from the schema; run after changing it"]
fn write_the_migration() {
    std::fs::write(PATH, d1::migration()).expect("write the migration");
}
