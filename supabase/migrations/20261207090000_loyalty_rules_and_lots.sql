-- The program's rules as versioned documents, the lots of expiring points and
-- customer tiers.
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

-- Tiers: the customer's tier (0: none) and its state (see loyalty._refresh_tier).
alter table loyalty.customers
  add column if not exists tier smallint not null default 0,
  add column if not exists tier_below_since bigint,
  add column if not exists tier_checked_at bigint,
  add column if not exists tier_qualifying bigint not null default 0;
alter table loyalty.customers drop constraint if exists customers_tier_check;
alter table loyalty.customers add constraint customers_tier_check check (tier between 0 and 10);
create index if not exists customers_tier_due_idx on loyalty.customers (tier_checked_at)
  where tier > 0 or tier_below_since is not null;

-- A job's call (expire_points, remind_expiry, refresh_tiers): a time and a
-- batch of 1..=500 customers (MAX_EXPIRY_BATCH), else invalid_amount.
create or replace function loyalty._job_batch(p_now bigint, p_limit bigint) returns void
language plpgsql
set search_path = ''
as $$
begin
  if p_now is null or p_limit is null or p_limit not between 1 and 500 then
    perform loyalty._reject('invalid_amount');
  end if;
end
$$;

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

-- The rule of tiers (loyalty_core::program::next_tier, the model's) for one
-- customer at p_now: the qualifying points are the customer's accruals not
-- reversed, after p_now - tiers.window_days; a tier reached is taken at once, a
-- lower one after tiers.grace_days below. Locks the customer's row; returns
-- the tier before.
create or replace function loyalty._refresh_tier(p_customer bigint, p_now bigint) returns smallint
language plpgsql
set search_path = ''
as $$
declare
  v_customer loyalty.customers;
  v_doc jsonb;
  v_qualifying numeric;
  v_reached integer;
  v_grace bigint;
begin
  select * into v_customer from loyalty.customers c where c.id = p_customer for update;
  select r.doc into v_doc from loyalty.rules r where r.version = loyalty._rules_version();
  -- Qualifying: the purchases' points, or their amounts (tiers.qualify_by = purchases).
  select coalesce(sum(case when v_doc #>> '{tiers,qualify_by}' = 'purchases' then e.purchase else e.amount end), 0)
    into v_qualifying
    from loyalty.entries e
   where e.customer_id = p_customer
     and e.kind = 'accrual'
     and e.created_at > p_now - 86400 * (v_doc #>> '{tiers,window_days}')::bigint
     and not exists (select 1 from loyalty.entries x where x.reverses = e.id);
  select count(*) into v_reached
    from jsonb_array_elements(coalesce(v_doc #> '{tiers,levels}', '[]'::jsonb)) l
   where (l->>'threshold')::numeric <= v_qualifying;
  v_grace := coalesce((v_doc #>> '{tiers,grace_days}')::bigint, 0);
  if v_reached >= v_customer.tier
     or p_now - coalesce(v_customer.tier_below_since, p_now) >= v_grace * 86400 then
    update loyalty.customers c
       set tier = v_reached, tier_below_since = null, tier_checked_at = p_now,
           tier_qualifying = least(v_qualifying, 9223372036854775807)
     where c.id = p_customer;
  else
    update loyalty.customers c
       set tier_below_since = coalesce(v_customer.tier_below_since, p_now), tier_checked_at = p_now,
           tier_qualifying = least(v_qualifying, 9223372036854775807)
     where c.id = p_customer;
  end if;
  return v_customer.tier;
end
$$;

create or replace function loyalty._entries_tier() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform loyalty._refresh_tier(new.customer_id, new.created_at);
  return null;
end
$$;

create or replace trigger entries_tier
  after insert on loyalty.entries
  for each row when (new.kind in ('accrual', 'reversal'))
  execute function loyalty._entries_tier();

-- The multiplier (basis points) of tier p_tier under the rules in force: 10000 for none.
create or replace function loyalty._tier_multiplier(p_tier integer) returns bigint
language sql
stable
set search_path = ''
as $$
  select coalesce(
    (select (r.doc #>> array['tiers', 'levels', (p_tier - 1)::text, 'multiplier_bps'])::bigint
       from loyalty.rules r
      where p_tier > 0 and r.version = loyalty._rules_version()),
    10000);
$$;

create or replace function loyalty._customer_json(c loyalty.customers) returns jsonb
language sql
immutable
set search_path = ''
as $$
  select case when c.id is null then null else jsonb_build_object(
    'id', c.id,
    'telegram_id', c.telegram_id,
    'code', c.code,
    'first_name', c.first_name,
    'username', c.username,
    'language', c.language,
    'referrer', c.referrer,
    'balance', c.balance,
    'blocked', c.blocked,
    'created_at', c.created_at,
    'tier', c.tier) end;
$$;

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
               limit 3) d), '[]'::jsonb),
    'qualifying', v_customer.tier_qualifying);
end
$$;

-- req: {today}; ProgramStats, now with the points expiring within 30 and 90 days, the customers per
-- tier and the rules version in force.
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
    'customers_by_tier', (select jsonb_agg((select count(*) from loyalty.customers c where c.tier = k) order by k)
                            from generate_series(1, 10) k),
    'rules_version', loyalty._rules_version(),
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
  perform loyalty._job_batch(v_now, v_limit);
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
  perform loyalty._job_batch(v_now, v_limit);
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

-- req: ReverseEntry; Reversed. As before, with the tier before.
create or replace function loyalty.reverse_entry(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key text := req->>'idempotency_key';
  v_entry_id bigint := (req->>'entry')::bigint;
  v_existing loyalty.entries;
  v_partner loyalty.partners;
  v_original loyalty.entries;
  v_reversal loyalty.entries;
  v_tier_before smallint;
begin
  perform loyalty._check_key(v_key);
  perform loyalty._lock_key(1, v_key);
  select * into v_existing from loyalty.entries e where e.idempotency_key = v_key;
  if found then
    if v_existing.kind <> 'reversal'
       or v_existing.reverses is distinct from v_entry_id
       or v_existing.partner_id is null
       or v_existing.partner_id is distinct from loyalty._partner_id(req->'partner') then
      perform loyalty._reject('idempotency_conflict');
    end if;
    return jsonb_build_object('original', loyalty._entry_now(v_entry_id),
                              'reversal', loyalty._entry_json(v_existing),
                              'customer', loyalty._customer_now(v_existing.customer_id),
                              'partner', loyalty._partner_now(v_existing.partner_id),
                              'replayed', true,
                              'tier_before', (select c.tier from loyalty.customers c
                                               where c.id = v_existing.customer_id));
  end if;
  select * into v_partner from loyalty.partners p where p.id = loyalty._partner_id(req->'partner');
  if not found then
    perform loyalty._reject('unknown_partner');
  end if;
  if v_partner.status <> 'approved' then
    perform loyalty._reject('partner_not_approved', jsonb_build_object('status', v_partner.status));
  end if;
  select * into v_original from loyalty.entries e where e.id = v_entry_id;
  if not found or v_original.partner_id is distinct from v_partner.id then
    perform loyalty._reject('unknown_entry');
  end if;
  if v_original.kind not in ('accrual', 'redemption') then
    perform loyalty._reject('not_reversible');
  end if;
  if v_original.created_at < (req->>'not_before')::bigint then
    perform loyalty._reject('reversal_window_closed');
  end if;
  -- Lock the customer, then look for a reversal: a concurrent one has committed by now.
  select c.tier into v_tier_before from loyalty.customers c where c.id = v_original.customer_id for update;
  if exists (select 1 from loyalty.entries r where r.reverses = v_original.id) then
    perform loyalty._reject('already_reversed');
  end if;
  v_reversal := loyalty._append(v_original.customer_id, 'reversal', -v_original.amount, v_partner.id, null,
                                v_key, 'partner', v_partner.id, v_original.id, null, (req->>'now')::bigint);
  return jsonb_build_object('original', loyalty._entry_json(v_original),
                            'reversal', loyalty._entry_json(v_reversal),
                            'customer', loyalty._customer_now(v_original.customer_id),
                            'partner', loyalty._partner_json(v_partner),
                            'replayed', false,
                            'tier_before', v_tier_before);
end
$$;

-- req: RefreshTiers; TiersRefreshed. Customers with a tier (or in grace) not
-- checked for a day, in id order; a run that overlaps another re-checks
-- tier_checked_at on each row it locks, so each is checked once.
create or replace function loyalty.refresh_tiers(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_now bigint := (req->>'now')::bigint;
  v_limit bigint := (req->>'limit')::bigint;
  v_row record;
  v_checked integer := 0;
  v_changed jsonb := '[]'::jsonb;
  v_customer loyalty.customers;
begin
  perform loyalty._job_batch(v_now, v_limit);
  for v_row in
    select c.id, c.tier
      from loyalty.customers c
     where (c.tier > 0 or c.tier_below_since is not null)
       and c.tier_checked_at <= v_now - 86400
     order by c.id
     limit v_limit
       for update of c
  loop
    perform loyalty._refresh_tier(v_row.id, v_now);
    v_checked := v_checked + 1;
    select * into v_customer from loyalty.customers c where c.id = v_row.id;
    if v_customer.tier <> v_row.tier then
      v_changed := v_changed || jsonb_build_array(jsonb_build_object(
        'customer', loyalty._customer_json(v_customer), 'from', v_row.tier));
    end if;
  end loop;
  return jsonb_build_object('checked', v_checked, 'changed', v_changed);
end
$$;

do $$
declare
  f text;
begin
  foreach f in array array['customer_summary', 'program_stats', 'program_rules', 'set_program_rules', 'expire_points',
                           'remind_expiry', 'refresh_tiers', 'reverse_entry'] loop
    execute format('revoke all on function loyalty.%I(jsonb) from public, anon, authenticated, service_role', f);
    execute format('grant execute on function loyalty.%I(jsonb) to service_role', f);
  end loop;
  foreach f in array array['_rules_version()', '_entries_rules_version()', '_entries_lots()',
                           '_rules_json(loyalty.rules)', '_refresh_tier(bigint, bigint)', '_entries_tier()',
                           '_tier_multiplier(integer)', '_job_batch(bigint, bigint)'] loop
    execute format('revoke all on function loyalty.%s from public, anon, authenticated, service_role', f);
  end loop;
end
$$;
