//! `migrations/0001_loyalty.sql` (for `wrangler d1 migrations apply`) is the
//! schema `D1Store` creates on first use: `loyalty_core::stores::d1::SCHEMA`.
//! After changing the schema, regenerate the file with
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
        "{PATH} differs from loyalty_core::stores::d1::SCHEMA; regenerate it with \
         `LOYALTY_WRITE_MIGRATION=1 cargo test -p loyalty-edge --test d1_migration`"
    );
}
