-- loyalty-rs D1 schema change: each partner's running total of credits of the day, generated from
-- loyalty_core::stores::d1::SCHEMA (do not edit).
-- Apply with `wrangler d1 migrations apply <database>` after 0012; a Worker also creates the table by
-- itself on first use.

CREATE TABLE IF NOT EXISTS loyalty_partner_days (
    partner   INTEGER PRIMARY KEY REFERENCES loyalty_partners (id),
    day_start INTEGER NOT NULL,
    credited  INTEGER NOT NULL,
    through   INTEGER NOT NULL
) STRICT;
