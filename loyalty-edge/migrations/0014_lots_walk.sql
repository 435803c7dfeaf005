-- loyalty-rs D1 schema change: a negative entry walks the customer's open lots in their order and
-- stops once its points are covered, generated from loyalty_core::stores::d1::lots_walk_upgrade
-- (do not edit). Apply with `wrangler d1 migrations apply <database>` after 0013. The same lots
-- and points as before; until it is applied, a redemption reads every open lot of the customer.

DROP TRIGGER IF EXISTS loyalty_entries_lot_take;

CREATE TRIGGER IF NOT EXISTS loyalty_entries_lot_take AFTER INSERT ON loyalty_entries
WHEN NEW.kind <> 'legacy' AND NEW.amount < 0
BEGIN
    INSERT INTO loyalty_lot_uses (entry, lot, points)
    SELECT NEW.id, id, take FROM (
        WITH RECURSIVE walk (phase, at, id, take, needed) AS (
            SELECT -1, NULL, NULL, 0, -NEW.amount
            UNION ALL
            SELECT iif(l.entry IS coalesce(NEW.reverses, 0), 0, iif(l.expires_at IS NULL, 2, 1)), l.expires_at, l.id,
                   min(l.remaining, w.needed), w.needed - min(l.remaining, w.needed)
              FROM walk w JOIN loyalty_lots l ON l.id = coalesce(CASE w.phase
                  WHEN -1 THEN coalesce(
                      (SELECT r.id FROM loyalty_lots r
                        WHERE r.entry = NEW.reverses AND r.customer = NEW.customer AND r.remaining > 0),
                      (SELECT d.id FROM loyalty_lots d
                        WHERE d.customer = NEW.customer AND d.remaining > 0 AND d.expires_at IS NOT NULL
                        ORDER BY d.expires_at, d.id LIMIT 1))
                  WHEN 0 THEN (SELECT d.id FROM loyalty_lots d
                        WHERE d.customer = NEW.customer AND d.remaining > 0 AND d.expires_at IS NOT NULL
                          AND d.entry IS NOT coalesce(NEW.reverses, 0)
                        ORDER BY d.expires_at, d.id LIMIT 1)
                  WHEN 1 THEN (SELECT d.id FROM loyalty_lots d
                        WHERE d.customer = NEW.customer AND d.remaining > 0 AND d.expires_at IS NOT NULL
                          AND (d.expires_at, d.id) > (w.at, w.id) AND d.entry IS NOT coalesce(NEW.reverses, 0)
                        ORDER BY d.expires_at, d.id LIMIT 1)
                  END,
                  (SELECT n.id FROM loyalty_lots n
                    WHERE n.customer = NEW.customer AND n.remaining > 0 AND n.expires_at IS NULL
                      AND n.id > iif(w.phase = 2, w.id, 0) AND n.entry IS NOT coalesce(NEW.reverses, 0)
                    ORDER BY n.id LIMIT 1))
             WHERE w.needed > 0)
        SELECT id, take FROM walk WHERE id IS NOT NULL)
     WHERE take > 0;
    UPDATE loyalty_lots
       SET remaining = remaining - (SELECT u.points FROM loyalty_lot_uses u
                                     WHERE u.entry = NEW.id AND u.lot = loyalty_lots.id)
     WHERE id IN (SELECT u.lot FROM loyalty_lot_uses u WHERE u.entry = NEW.id);
    SELECT RAISE(ABORT, 'loyalty_lots hold fewer points than the balance')
     WHERE coalesce((SELECT sum(u.points) FROM loyalty_lot_uses u WHERE u.entry = NEW.id), 0) <> -NEW.amount;
END;
