-- loyalty-rs storage: the lots an entry takes points from, walked in their
-- order until the points are covered (after 20261216090000_loyalty_enqueue_webhooks).
-- No behaviour changes.
--
-- _entries_lots (20261207090000_loyalty_rules_and_lots) took a negative
-- entry's points with one statement over every open lot of the customer: a
-- running sum in the lots' order, then the lots it reached. Its cost grew
-- with the customer's open lots — one per credit not yet spent or expired —
-- so a regular's redemption, a reversal of a credit and an expiry read all of
-- them (docs/PERFORMANCE.md, "D1's rows"). Restated: the reversed entry's lot
-- first, then the others in the same order (the soonest date first, no date
-- last, then the oldest), each read from the customer's open-lots index and
-- the walk stopping as soon as the points are taken. The same lots, the same
-- points from each, the same refusal when the lots hold fewer points than
-- the entry takes. The positive branch is unchanged. The customer's row is
-- locked by the entry's balance update before this trigger runs, so no other
-- transaction changes the lots meanwhile. The customer's open lots are
-- indexed in that order, the lot's id included (lots_open_idx had the date
-- alone: lots with no date, as in a program without expiry, were all read and
-- sorted by id). Safe to run again.

create index if not exists lots_open_walk_idx on loyalty.lots (customer_id, expires_at, id) where remaining > 0;
drop index if exists loyalty.lots_open_idx;

create or replace function loyalty._entries_lots() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_days bigint;
  v_need numeric;
  v_take numeric;
  v_lot record;
begin
  if new.kind = 'legacy' or new.amount = 0 then
    return null;
  end if;
  if new.amount > 0 then
    if new.kind = 'reversal' and exists (select 1 from loyalty.lot_uses u where u.entry_id = new.reverses) then
      update loyalty.lots l
         set remaining = l.remaining + u.points
        from loyalty.lot_uses u
       where u.entry_id = new.reverses
         and l.id = u.lot_id;
    else
      select coalesce((r.doc #>> array['expiry', 'partners', new.partner_id::text])::bigint,
                      (r.doc #>> '{expiry,days}')::bigint)
        into v_days
        from loyalty.rules r
       where r.version = loyalty._rules_version();
      insert into loyalty.lots (customer_id, entry_id, amount, remaining, expires_at)
      values (new.customer_id, new.id, new.amount, new.amount, new.created_at + 86400 * v_days);
    end if;
    return null;
  end if;
  v_need := -new.amount::numeric;
  -- The reversed entry's own lot first (a lot belongs to one entry).
  if new.reverses is not null then
    select l.id, l.remaining into v_lot
      from loyalty.lots l
     where l.entry_id = new.reverses and l.customer_id = new.customer_id and l.remaining > 0;
    if found then
      v_take := least(v_lot.remaining, v_need);
      insert into loyalty.lot_uses (entry_id, lot_id, points) values (new.id, v_lot.id, v_take);
      update loyalty.lots l set remaining = l.remaining - v_take where l.id = v_lot.id;
      v_need := v_need - v_take;
    end if;
  end if;
  if v_need > 0 then
    for v_lot in
      select l.id, l.remaining
        from loyalty.lots l
       where l.customer_id = new.customer_id
         and l.remaining > 0
         and (new.reverses is null or l.entry_id is distinct from new.reverses)
       order by l.expires_at nulls last, l.id
       -- Each open lot holds a point at least: no more lots are ever needed, and the bound keeps the
       -- plan an ordered walk of the index, however few rows the statistics expect.
       limit v_need
    loop
      v_take := least(v_lot.remaining, v_need);
      insert into loyalty.lot_uses (entry_id, lot_id, points) values (new.id, v_lot.id, v_take);
      update loyalty.lots l set remaining = l.remaining - v_take where l.id = v_lot.id;
      v_need := v_need - v_take;
      exit when v_need = 0;
    end loop;
  end if;
  if v_need <> 0 then
    raise exception 'loyalty: the lots of customer % hold fewer points than the balance', new.customer_id;
  end if;
  return null;
end
$$;

revoke all on function loyalty._entries_lots() from public, anon, authenticated, service_role;
