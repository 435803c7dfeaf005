-- loyalty-rs D1 schema change: update claims per bot id instead of per bot kind,
-- so deployments with their own bots (production, staging) can share a database.
-- Apply with `wrangler d1 migrations apply <database>` after 0001. The claims of
-- updates handled before it are not carried over: apply it while no update is
-- being processed. A Worker creates the new table on first use by itself.

CREATE TABLE IF NOT EXISTS loyalty_bot_updates (
    bot        INTEGER NOT NULL,
    update_id  INTEGER NOT NULL,
    claimed_at INTEGER NOT NULL,
    PRIMARY KEY (bot, update_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS loyalty_bot_updates_by_time ON loyalty_bot_updates (claimed_at);

DROP TABLE IF EXISTS loyalty_update_claims;
