-- The program's rules as versioned documents, and the lots of expiring points.
--
-- Every version of the rules document is a row of loyalty.rules; each ledger
-- entry records the version in force when it was written (entries_rules_version,
-- 0 before any change). The lots are the rule of loyalty_core::program's expiry,
-- kept by a trigger on the ledger (the same rule as the model store's and the
-- SQLite triggers'):
--
-- * a counted entry with a positive amount makes a lot of that many points,
--   expiring created_at + the days of the rules in force (the partner's own
--   period for an entry at a partner listed in expiry.partners, else
--   expiry.days; none: never) — except a reversal of a redemption that took
--   from lots, which gives those points back to the same lots;
-- * a counted entry with a negative amount takes its points from the
--   customer's lots: the reversed entry's lot first, then the soonest date
--   (lots that never expire last), then the oldest lot.
--
-- The points left in a customer's lots sum to the balance: the points held
-- before this migration become one opening lot per customer that never expires.
-- Every entry is written with the customer's row locked (loyalty._append, the
-- import), so a customer's lots change one entry at a time.

create table if not exists loyalty.rules (
  version integer primary key,
  doc jsonb not null,
  admin bigint,
  created_at bigint not null,
  constraint rules_version_check check (version >= 1),
  constraint rules_doc_check check (jsonb_typeof(doc) = 'object')
);

alter table loyalty.entries add column if not exists rules_version integer not null default 0;

alter table loyalty.entries
  drop constraint if exists entries_kind_check,
  drop constraint if exists entries_sign_check;

alter table loyalty.entries
  add constraint entries_kind_check check (
    kind in ('welcome_bonus', 'referral_bonus', 'accrual', 'redemption', 'reversal', 'adjustment',
             'import', 'legacy', 'expiry')),
  add constraint entries_sign_check check (
    case kind
      when 'welcome_bonus' then amount > 0
      when 'referral_bonus' then amount > 0
      when 'accrual' then amount >= 0
      when 'redemption' then amount < 0
      when 'expiry' then amount < 0
      when 'legacy' then true
      else amount <> 0 or kind = 'reversal'
    end);

create table if not exists loyalty.lots (
  id bigint generated always as identity primary key,
  customer_id bigint not null references loyalty.customers (id),
  entry_id bigint references loyalty.entries (id),
  amount bigint not null,
  remaining bigint not null,
  expires_at bigint,
  reminded boolean not null default false,
  constraint lots_entry_id_key unique (entry_id),
  constraint lots_amount_check check (amount > 0),
  constraint lots_remaining_check check (remaining between 0 and amount)
);

create index if not exists lots_open_idx on loyalty.lots (customer_id, expires_at) where remaining > 0;
create index if not exists lots_due_idx on loyalty.lots (expires_at, customer_id)
  where remaining > 0 and expires_at is not null;

create table if not exists loyalty.lot_uses (
  entry_id bigint not null references loyalty.entries (id),
  lot_id bigint not null references loyalty.lots (id),
  points bigint not null,
  primary key (entry_id, lot_id),
  constraint lot_uses_points_check check (points > 0)
);

-- As every table of the schema: no grants, and row level security without
-- policies, so the Data API's roles see nothing even if a grant slipped in.
alter table loyalty.rules enable row level security;
alter table loyalty.lots enable row level security;
alter table loyalty.lot_uses enable row level security;
revoke all on loyalty.rules, loyalty.lots, loyalty.lot_uses from public, anon, authenticated, service_role;

-- The version of the rules in force (0 before any change).
create or replace function loyalty._rules_version() returns integer
language sql
stable
set search_path = ''
as $$
  select coalesce(max(r.version), 0) from loyalty.rules r;
$$;

create or replace function loyalty._entries_rules_version() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.rules_version := loyalty._rules_version();
  return new;
end
$$;

create or replace trigger entries_rules_version
  before insert on loyalty.entries
  for each row execute function loyalty._entries_rules_version();

create or replace function loyalty._entries_lots() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_days bigint;
  v_taken numeric;
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
  with open as (
    select l.id,
           least(l.remaining, -new.amount - coalesce(sum(l.remaining) over (
             order by case when l.entry_id = new.reverses then 0 else 1 end, l.expires_at nulls last, l.id
             rows between unbounded preceding and 1 preceding), 0)) as take
      from loyalty.lots l
     where l.customer_id = new.customer_id
       and l.remaining > 0
  ),
  used as (
    insert into loyalty.lot_uses (entry_id, lot_id, points)
    select new.id, o.id, o.take from open o where o.take > 0
    returning lot_id, points
  )
  update loyalty.lots l
     set remaining = l.remaining - u.points
    from used u
   where l.id = u.lot_id;
  select coalesce(sum(u.points), 0) into v_taken from loyalty.lot_uses u where u.entry_id = new.id;
  if v_taken <> -new.amount then
    raise exception 'loyalty: the lots of customer % hold fewer points than the balance', new.customer_id;
  end if;
  return null;
end
$$;

create or replace trigger entries_lots
  after insert on loyalty.entries
  for each row execute function loyalty._entries_lots();

-- The points held before lots existed: an opening lot that never expires, so
-- that every customer's lots sum to the balance (a no-op when they do).
insert into loyalty.lots (customer_id, entry_id, amount, remaining, expires_at)
select c.id, null, c.balance - h.held, c.balance - h.held, null
  from loyalty.customers c
 cross join lateral (select coalesce(sum(l.remaining), 0) as held
                       from loyalty.lots l where l.customer_id = c.id) h
 where c.balance > h.held
 order by c.id;

create or replace function loyalty._entry_json(e loyalty.entries) returns jsonb
language sql
immutable
set search_path = ''
as $$
  select case when e.id is null then null else jsonb_build_object(
    'id', e.id,
    'customer', e.customer_id,
    'kind', e.kind,
    'amount', e.amount,
    'partner', e.partner_id,
    'purchase', e.purchase,
    'idempotency_key', e.idempotency_key,
    'author', case when e.author_type = 'system' then jsonb_build_object('type', 'system')
                   else jsonb_build_object('type', e.author_type, 'id', e.author_id) end,
    'reverses', e.reverses,
    'reason', e.reason,
    'created_at', e.created_at,
    'rules_version', e.rules_version) end;
$$;

create or replace function loyalty._rules_json(r loyalty.rules) returns jsonb
language sql
immutable
set search_path = ''
as $$
  select jsonb_build_object('version', r.version, 'rules', r.doc, 'admin', r.admin, 'created_at', r.created_at);
$$;

create or replace function loyalty._check_key(p_key text) returns void
language plpgsql
set search_path = ''
as $$
begin
  if p_key is null then
    raise exception 'loyalty: missing idempotency key';
  end if;
  if starts_with(p_key, 'welcome:') or starts_with(p_key, 'referral:') or starts_with(p_key, 'redemption:')
     or starts_with(p_key, 'import:') or starts_with(p_key, 'expiry:') then
    perform loyalty._reject('idempotency_conflict');
  end if;
end
$$;

-- req: {who, recent}; the customer, the newest entries and the points by expiry date (three soonest).
create or replace function loyalty.customer_summary(req jsonb) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_customer loyalty.customers;
begin
  select * into v_customer from loyalty.customers c where c.id = loyalty._customer_id(req->'who');
  if not found then
    return 'null'::jsonb;
  end if;
  return jsonb_build_object(
    'customer', loyalty._customer_json(v_customer),
    'recent', coalesce((
      select jsonb_agg(loyalty._entry_json(e) order by e.id desc)
        from (select * from loyalty.entries e
               where e.customer_id = v_customer.id
               order by e.id desc
               limit (req->>'recent')::bigint) e), '[]'::jsonb),
    'expiring', coalesce((
      select jsonb_agg(jsonb_build_object('points', d.points, 'at', d.at) order by d.at)
        from (select sum(l.remaining) as points, l.expires_at as at
                from loyalty.lots l
               where l.customer_id = v_customer.id and l.remaining > 0 and l.expires_at is not null
               group by l.expires_at
               order by l.expires_at
               limit 3) d), '[]'::jsonb));
end
$$;

-- req: {today}; ProgramStats, now with the points expiring within 30 and 90 days.
create or replace function loyalty.program_stats(req jsonb) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'customers', (select count(*) from loyalty.customers),
    'partners_approved', (select count(*) from loyalty.partners p where p.status = 'approved'),
    'partners_pending', (select count(*) from loyalty.partners p where p.status = 'applied'),
    'points_outstanding', (select least(coalesce(sum(c.balance), 0), 9223372036854775807) from loyalty.customers c),
    'expiring_30_days', (select least(coalesce(sum(l.remaining), 0), 9223372036854775807) from loyalty.lots l
                          where l.remaining > 0 and l.expires_at < (req->>'today')::bigint + 30 * 86400),
    'expiring_90_days', (select least(coalesce(sum(l.remaining), 0), 9223372036854775807) from loyalty.lots l
                          where l.remaining > 0 and l.expires_at < (req->>'today')::bigint + 90 * 86400),
    'today', loyalty._period_stats(null, (req->>'today')::bigint));
$$;

-- req: {}; the RulesVersion in force.
create or replace function loyalty.program_rules(req jsonb) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(
    (select loyalty._rules_json(r) from loyalty.rules r where r.version = loyalty._rules_version()),
    jsonb_build_object('version', 0, 'rules', '{}'::jsonb, 'admin', null, 'created_at', null));
$$;

-- req: SetProgramRules (the document checked by the caller); the new RulesVersion.
create or replace function loyalty.set_program_rules(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_rules loyalty.rules;
begin
  -- One change at a time (readers are not blocked).
  lock table loyalty.rules in share row exclusive mode;
  insert into loyalty.rules (version, doc, admin, created_at)
  values (loyalty._rules_version() + 1, req->'rules', (req->>'admin')::bigint, (req->>'now')::bigint)
  returning * into v_rules;
  return loyalty._rules_json(v_rules);
end
$$;

-- req: ExpirePoints; the PointsExpired of up to `limit` customers, in id order.
-- Each customer's row is locked before its points are summed, so a run that
-- overlaps another finds nothing left of what the other took.
create or replace function loyalty.expire_points(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_now bigint := (req->>'now')::bigint;
  v_limit bigint := (req->>'limit')::bigint;
  v_customer bigint;
  v_due bigint;
  v_entry loyalty.entries;
  v_out jsonb := '[]'::jsonb;
begin
  if v_now is null or v_limit is null or v_limit not between 1 and 500 then
    perform loyalty._reject('invalid_amount');
  end if;
  for v_customer in
    select c.id
      from loyalty.customers c
     where c.id in (select l.customer_id from loyalty.lots l
                     where l.remaining > 0 and l.expires_at <= v_now)
     order by c.id
     limit v_limit
       for update of c
  loop
    select coalesce(sum(l.remaining), 0) into v_due
      from loyalty.lots l
     where l.customer_id = v_customer and l.remaining > 0 and l.expires_at <= v_now;
    continue when v_due = 0;
    v_entry := loyalty._append(v_customer, 'expiry', -v_due, null, null, 'expiry:' || v_customer || ':' || v_now,
                               'system', null, null, null, v_now);
    v_out := v_out || jsonb_build_array(jsonb_build_object(
      'customer', loyalty._customer_now(v_customer), 'entry', loyalty._entry_json(v_entry)));
  end loop;
  return v_out;
end
$$;

-- req: RemindExpiry; the ExpiryReminders of up to `limit` unblocked customers,
-- in id order; their lots in the window become announced (a run that overlaps
-- another re-checks `reminded` on each lot it updates, so nothing is told twice).
create or replace function loyalty.remind_expiry(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_now bigint := (req->>'now')::bigint;
  v_limit bigint := (req->>'limit')::bigint;
  v_days bigint;
  v_out jsonb;
begin
  if v_now is null or v_limit is null or v_limit not between 1 and 500 then
    perform loyalty._reject('invalid_amount');
  end if;
  select coalesce((r.doc #>> '{expiry,remind_days_before}')::bigint, 0) into v_days
    from loyalty.rules r where r.version = loyalty._rules_version();
  if coalesce(v_days, 0) = 0 then
    return '[]'::jsonb;
  end if;
  with due as (
    select l.id, l.customer_id
      from loyalty.lots l
      join loyalty.customers c on c.id = l.customer_id and not c.blocked
     where l.remaining > 0 and not l.reminded
       and l.expires_at > v_now and l.expires_at <= v_now + v_days * 86400
  ),
  chosen as (
    select distinct d.customer_id from due d order by d.customer_id limit v_limit
  ),
  marked as (
    update loyalty.lots l
       set reminded = true
      from due d
     where l.id = d.id
       and d.customer_id in (select customer_id from chosen)
       and not l.reminded
    returning l.customer_id, l.remaining, l.expires_at
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'customer', loyalty._customer_now(m.customer_id), 'points', m.points, 'at', m.at)
           order by m.customer_id), '[]'::jsonb)
    into v_out
    from (select customer_id, sum(remaining) as points, min(expires_at) as at
            from marked group by customer_id) m;
  return v_out;
end
$$;

create or replace function loyalty.call_claimed(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_function text := req->>'function';
  v_result jsonb;
begin
  if v_function is null or v_function not in (
    'register_customer', 'customer_summary', 'customer_view', 'customer_entries', 'set_language', 'set_blocked',
    'credit_purchase', 'open_redemption', 'confirm_redemption', 'decline_redemption', 'expire_redemptions',
    'reverse_entry', 'adjust_balance', 'apply_partner', 'decide_partner', 'partner', 'list_partners',
    'set_partner_api_key', 'partner_by_api_key', 'look_up_customer', 'partner_stats', 'program_stats',
    'claim_update', 'release_update', 'prune_update_claims', 'consume_quota', 'create_broadcast',
    'claim_broadcast_batch', 'record_broadcast', 'pending_broadcasts', 'program_rules', 'set_program_rules',
    'expire_points', 'remind_expiry'
  ) then
    raise exception 'loyalty: unknown use case %', coalesce(v_function, 'null');
  end if;
  insert into loyalty.bot_updates (bot, update_id, claimed_at)
  values ((req#>>'{claim,bot}')::bigint, (req#>>'{claim,update_id}')::bigint, (req#>>'{claim,now}')::bigint)
  on conflict do nothing;
  if not found then
    return '{"duplicate_update": true}'::jsonb;
  end if;
  begin
    execute format('select loyalty.%I($1)', v_function) into v_result using req->'req';
  exception when sqlstate 'LY001' then
    return jsonb_build_object('rejected', sqlerrm::jsonb);
  end;
  return v_result;
end
$$;

do $$
declare
  f text;
begin
  foreach f in array array['customer_summary', 'program_stats', 'program_rules', 'set_program_rules', 'expire_points',
                           'remind_expiry', 'call_claimed'] loop
    execute format('revoke all on function loyalty.%I(jsonb) from public, anon, authenticated, service_role', f);
    execute format('grant execute on function loyalty.%I(jsonb) to service_role', f);
  end loop;
  foreach f in array array['_rules_version()', '_entries_rules_version()', '_entries_lots()',
                           '_rules_json(loyalty.rules)'] loop
    execute format('revoke all on function loyalty.%s from public, anon, authenticated, service_role', f);
  end loop;
end
$$;
