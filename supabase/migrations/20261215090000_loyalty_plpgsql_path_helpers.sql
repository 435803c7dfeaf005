-- loyalty-rs storage: the helpers on every update's path in PL/pgSQL (after
-- 20261214090100_loyalty_daily_totals). No behaviour changes.
--
-- As 20261213090100_loyalty_plpgsql_helpers explains, a helper written in SQL
-- with `set search_path = ''` is never inlined and PostgreSQL plans its body
-- again on every call, while a session keeps a PL/pgSQL function's plans.
-- Restated here with the same result for every input, the same volatility and
-- the same `search_path`, the helpers every claimed update or every credit
-- still called in SQL:
--   - a claim's: _keep_update_body (every update keeps its body), and
--     _finish_carried with _finish_updates (the updates a claim finishes;
--     _finish_updates is still the one home of that rule, now one delete by the
--     primary key per update, so that the plan a session keeps is an index
--     probe even if it was made while update_bodies was empty);
--   - a ledger write's: _lock_key (the idempotency key's lock), _customer_now,
--     _entry_now and _partner_now (the answers' rows as they are now),
--     _tier_multiplier and _awards_of (a credit's tier and campaign awards).
-- `create or replace` keeps their owners and privileges. Safe to run again.

create or replace function loyalty._keep_update_body(claim jsonb) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  if jsonb_typeof(claim->'body') = 'string' then
    insert into loyalty.update_bodies (bot, update_id, claimed_at, body)
    values ((claim->>'bot')::bigint, (claim->>'update_id')::bigint, (claim->>'now')::bigint, claim->>'body')
    on conflict do nothing;
  end if;
end
$$;

create or replace function loyalty._finish_updates(updates jsonb) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  u jsonb;
begin
  if jsonb_typeof(updates) is distinct from 'array' then
    return;
  end if;
  -- One delete by the primary key per update: a plan PL/pgSQL keeps for the session stays an index
  -- probe however large update_bodies grows (a join planned while the table was empty scanned it).
  for u in select e.value from jsonb_array_elements(updates) with ordinality e(value, ord) where e.ord <= 100 loop
    delete from loyalty.update_bodies b
     where b.bot = (u->>'bot')::bigint and b.update_id = (u->>'update_id')::bigint;
  end loop;
end
$$;

create or replace function loyalty._finish_carried(claim jsonb) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform loyalty._finish_updates(claim->'finished');
end
$$;

create or replace function loyalty._lock_key(p_namespace int, p_key text) returns void
language plpgsql
set search_path = ''
as $$
begin
  perform pg_advisory_xact_lock(1819243372 + p_namespace, hashtext(p_key));
end
$$;

create or replace function loyalty._customer_now(p_id bigint) returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  return (select loyalty._customer_json(c) from loyalty.customers c where c.id = p_id);
end
$$;

create or replace function loyalty._entry_now(p_id bigint) returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  return (select loyalty._entry_json(e) from loyalty.entries e where e.id = p_id);
end
$$;

create or replace function loyalty._partner_now(p_id bigint) returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  return (select loyalty._partner_json(p) from loyalty.partners p where p.id = p_id);
end
$$;

create or replace function loyalty._tier_multiplier(p_tier integer) returns bigint
language plpgsql
stable
set search_path = ''
as $$
begin
  if p_tier <= 0 or p_tier is null then
    return 10000;
  end if;
  return coalesce(
    (select (r.doc #>> array['tiers', 'levels', (p_tier - 1)::text, 'multiplier_bps'])::bigint
       from loyalty.rules r
      where r.version = loyalty._rules_version()),
    10000);
end
$$;

create or replace function loyalty._awards_of(p_entry bigint) returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  return (
    select coalesce(jsonb_agg(jsonb_build_object('campaign', c.id, 'kind', c.kind, 'title', c.title,
                                                 'multiplier_bps', c.multiplier_bps, 'points', a.points)
                              order by c.id), '[]'::jsonb)
      from loyalty.campaign_awards a join loyalty.campaigns c on c.id = a.campaign_id
     where a.entry_id = p_entry);
end
$$;
