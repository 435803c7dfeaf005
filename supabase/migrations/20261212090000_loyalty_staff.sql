-- loyalty-rs storage schema: cashier accounts (a partner's staff).
--
-- A partner's owner invites cashiers with one-time links (invite_staff: only
-- the SHA-256 hex of the link's token is stored, in loyalty.staff); the first
-- Telegram user who opens a link before it expires joins (join_staff); the
-- owner lists (staff) and revokes (revoke_staff) cashiers and invitations.
--
-- A PartnerRef `{"by": "till", "value": t}` names the partner at the till of
-- Telegram user t: the partner t owns (no cashier), else the partner of t's
-- active staff row (joined, not revoked), with that row as the cashier
-- (loyalty._till_partner). Only partner, look_up_customer, credit_purchase,
-- open_redemption, add_stamp and use_voucher take it; loyalty._partner_id
-- answers null for it, so every other call answers it as an unknown partner.
-- The cashier is recorded on what the till writes: credit_purchase's accrual
-- entry (entries.cashier), open_redemption's request
-- (redemption_requests.cashier), and confirm_redemption's redemption entry
-- (the request's cashier). A replay answers the first call's (its cashier).
-- The restated functions are otherwise exactly as in the migrations named
-- above each.
--
-- Concurrency: invite_staff locks the partner's row (FOR NO KEY UPDATE: one
-- invitation of a partner at a time, credits still wait on it only briefly),
-- so the staff limit holds; a token hash used concurrently is
-- invalid_invite (INSERT … ON CONFLICT). join_staff takes an advisory lock on
-- the Telegram user (namespace 7), then locks the invitation's row FOR
-- UPDATE, so two users opening one link join one (the other:
-- invalid_invite) and one user opening two links joins one (the other:
-- already_staff); the unique index staff_active_telegram_id_key backs it.
-- revoke_staff locks the row. The model store (loyalty_core::stores::memory)
-- and the SQLite statements are the other homes of these rules. Safe to run
-- again.

create table if not exists loyalty.staff (
  id bigint generated always as identity primary key,
  partner_id bigint not null references loyalty.partners (id),
  -- Lower-case hex SHA-256 of the invitation link's token; the token itself is never stored.
  token_sha256 text not null,
  telegram_id bigint,
  name text not null default '',
  invited_at bigint not null,
  expires_at bigint not null,
  joined_at bigint,
  revoked_at bigint,
  constraint staff_token_sha256_key unique (token_sha256),
  constraint staff_joined_check check ((telegram_id is null) = (joined_at is null)),
  constraint staff_name_check check (char_length(name) <= 64)
);

-- An active cashier's Telegram id is theirs alone (PartnerRef::Till finds one row at most).
create unique index if not exists staff_active_telegram_id_key on loyalty.staff (telegram_id)
  where telegram_id is not null and revoked_at is null;
create index if not exists staff_partner_idx on loyalty.staff (partner_id, id);

-- As every table of the schema: no grants, and row level security without
-- policies; only the security definer functions reach it.
alter table loyalty.staff enable row level security;
revoke all on loyalty.staff from public, anon, authenticated, service_role;

-- Who at the till made an entry, or asked for a redemption (null: the partner itself).
alter table loyalty.entries add column if not exists cashier bigint references loyalty.staff (id);
alter table loyalty.redemption_requests add column if not exists cashier bigint references loyalty.staff (id);

alter table loyalty.entries drop constraint if exists entries_cashier_check;
alter table loyalty.entries
  add constraint entries_cashier_check check (cashier is null or kind in ('accrual', 'redemption'));

-- ---------------------------------------------------------------------------
-- Helpers

-- The JSON of Staff.
create or replace function loyalty._staff_json(s loyalty.staff) returns jsonb
language sql
immutable
set search_path = ''
as $$
  select case when s.id is null then null else jsonb_build_object(
    'id', s.id,
    'partner', s.partner_id,
    'telegram_id', s.telegram_id,
    'name', s.name,
    'invited_at', s.invited_at,
    'expires_at', s.expires_at,
    'joined_at', s.joined_at,
    'revoked_at', s.revoked_at) end;
$$;

-- Restated from 20261126090100_loyalty_functions: a till's reference
-- (`{"by": "till"}`) is no partner here (null) instead of malformed.
-- Resolves a PartnerRef (`{"by": "id"|"telegram"|"till", "value": ...}`) to an id, or null.
create or replace function loyalty._partner_id(p_ref jsonb) returns bigint
language plpgsql
stable
set search_path = ''
as $$
declare
  v_id bigint;
begin
  case p_ref->>'by'
    when 'id' then
      select p.id into v_id from loyalty.partners p where p.id = (p_ref->>'value')::bigint;
    when 'telegram' then
      select p.id into v_id from loyalty.partners p where p.telegram_id = (p_ref->>'value')::bigint;
    when 'till' then
      v_id := null; -- only the till's calls take it, through loyalty._till_partner
    else
      raise exception 'loyalty: malformed partner reference %', p_ref;
  end case;
  return v_id;
end
$$;

-- Resolves a PartnerRef at the till to the partner's id and the cashier's
-- staff id: `{"by": "till", "value": t}` is the partner t owns (cashier null),
-- else the partner of t's active staff row (joined, not revoked) with that
-- row as cashier, else null; an owner's reference ("id", "telegram") is its
-- partner, cashier null.
create or replace function loyalty._till_partner(p_ref jsonb, out partner bigint, out cashier bigint)
language plpgsql
stable
set search_path = ''
as $$
begin
  if p_ref->>'by' is distinct from 'till' then
    partner := loyalty._partner_id(p_ref);
    return;
  end if;
  select p.id into partner from loyalty.partners p where p.telegram_id = (p_ref->>'value')::bigint;
  if partner is null then
    select s.partner_id, s.id into partner, cashier
      from loyalty.staff s
     where s.telegram_id = (p_ref->>'value')::bigint and s.joined_at is not null and s.revoked_at is null;
  end if;
end
$$;

-- The partner a PartnerRef at the till names, which must exist and be
-- approved (loyalty._approved_partner of 20261210090000_loyalty_rewards, for
-- the till's calls).
create or replace function loyalty._approved_till(p_ref jsonb) returns loyalty.partners
language plpgsql
stable
set search_path = ''
as $$
declare
  v_partner loyalty.partners;
begin
  select * into v_partner from loyalty.partners p where p.id = (loyalty._till_partner(p_ref)).partner;
  if not found then
    perform loyalty._reject('unknown_partner');
  end if;
  if v_partner.status <> 'approved' then
    perform loyalty._reject('partner_not_approved', jsonb_build_object('status', v_partner.status));
  end if;
  return v_partner;
end
$$;

-- loyalty._append of 20261126090100_loyalty_functions with the cashier who
-- made the entry at the till (null: the partner itself, or no partner).
create or replace function loyalty._append(
  p_customer bigint,
  p_kind text,
  p_amount bigint,
  p_partner bigint,
  p_purchase bigint,
  p_key text,
  p_author_type text,
  p_author_id bigint,
  p_reverses bigint,
  p_reason text,
  p_now bigint,
  p_cashier bigint
) returns loyalty.entries
language plpgsql
set search_path = ''
as $$
declare
  v_balance bigint;
  v_entry loyalty.entries;
begin
  update loyalty.customers c
     set balance = c.balance + p_amount
   where c.id = p_customer
     and c.balance::numeric + p_amount between 0 and 9223372036854775807
  returning c.balance into v_balance;
  if not found then
    select c.balance into v_balance from loyalty.customers c where c.id = p_customer;
    if not found then
      raise exception 'loyalty: missing customer %', p_customer;
    end if;
    if v_balance::numeric + p_amount < 0 then
      perform loyalty._reject('insufficient_balance',
        jsonb_build_object('balance', v_balance, 'requested', -p_amount::numeric));
    end if;
    perform loyalty._reject('invalid_amount');
  end if;
  insert into loyalty.entries (customer_id, kind, amount, partner_id, purchase, idempotency_key,
                               author_type, author_id, reverses, reason, created_at, cashier)
  values (p_customer, p_kind, p_amount, p_partner, p_purchase, p_key,
          p_author_type, p_author_id, p_reverses, p_reason, p_now, p_cashier)
  returning * into v_entry;
  return v_entry;
end
$$;

-- Restated from 20261126090100_loyalty_functions: the same, through the one above (no cashier).
create or replace function loyalty._append(
  p_customer bigint,
  p_kind text,
  p_amount bigint,
  p_partner bigint,
  p_purchase bigint,
  p_key text,
  p_author_type text,
  p_author_id bigint,
  p_reverses bigint,
  p_reason text,
  p_now bigint
) returns loyalty.entries
language plpgsql
set search_path = ''
as $$
begin
  return loyalty._append(p_customer, p_kind, p_amount, p_partner, p_purchase, p_key, p_author_type, p_author_id,
                         p_reverses, p_reason, p_now, null::bigint);
end
$$;

-- Restated from 20261207090000_loyalty_rules_and_lots, with the cashier.
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
    'rules_version', e.rules_version,
    'cashier', e.cashier) end;
$$;

-- Restated from 20261126090100_loyalty_functions, with the cashier.
create or replace function loyalty._request_json(r loyalty.redemption_requests) returns jsonb
language sql
immutable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', r.id,
    'customer', r.customer_id,
    'partner', r.partner_id,
    'points', r.points,
    'purchase', r.purchase,
    'status', r.status,
    'created_at', r.created_at,
    'expires_at', r.expires_at,
    'entry', r.entry_id,
    'cashier', r.cashier);
$$;

-- Restated from 20261126090100_loyalty_functions, with the cashier who asked (as now).
-- The view of a request as it is now (RedemptionView).
create or replace function loyalty._redemption_view(r loyalty.redemption_requests, p_replayed boolean)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'request', loyalty._request_json(r),
    'customer', loyalty._customer_now(r.customer_id),
    'partner', loyalty._partner_now(r.partner_id),
    'entry', case when r.entry_id is null then null else loyalty._entry_now(r.entry_id) end,
    'replayed', p_replayed,
    'cashier', (select loyalty._staff_json(s) from loyalty.staff s where s.id = r.cashier));
$$;

-- ---------------------------------------------------------------------------
-- The till's calls

-- Restated from 20261126090100_loyalty_functions: a till's reference too.
create or replace function loyalty.partner(req jsonb) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(loyalty._partner_now((loyalty._till_partner(req->'who')).partner), 'null'::jsonb);
$$;

-- Restated from 20261211090200_loyalty_lookup_stamps: a till's reference too.
create or replace function loyalty.look_up_customer(req jsonb) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_partner loyalty.partners;
  v_customer bigint;
begin
  select * into v_partner from loyalty.partners p where p.id = (loyalty._till_partner(req->'partner')).partner;
  if not found then
    perform loyalty._reject('unknown_partner');
  end if;
  if v_partner.status <> 'approved' then
    perform loyalty._reject('partner_not_approved', jsonb_build_object('status', v_partner.status));
  end if;
  v_customer := loyalty._customer_id(req->'customer');
  if v_customer is null then
    perform loyalty._reject('unknown_customer');
  end if;
  return jsonb_build_object('partner', loyalty._partner_json(v_partner),
                            'customer', loyalty._customer_now(v_customer),
                            'stamps', coalesce((select loyalty._stamp_progress(s, v_customer)
                                                  from loyalty.stamp_cards s
                                                 where s.partner_id = v_partner.id), 'null'::jsonb));
end
$$;

-- Restated from 20261207100000_loyalty_campaigns: a till's reference too; the
-- accrual records the cashier.
-- req: CreditPurchase; Credited. The one formula of earning (rules::earned): the base, then the
-- tier's multiplier; then what campaigns add (loyalty._campaign_awards), all in one accrual entry.
create or replace function loyalty.credit_purchase(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key text := req->>'idempotency_key';
  v_purchase bigint := (req->>'purchase')::bigint;
  v_day_start bigint := (req->>'day_start')::bigint;
  v_existing loyalty.entries;
  v_partner loyalty.partners;
  v_customer loyalty.customers;
  v_partner_id bigint;
  v_cashier bigint;
  v_customer_id bigint;
  v_amount bigint;
  v_used numeric;
  v_entry loyalty.entries;
  v_tier_before smallint;
  v_awards jsonb;
begin
  perform loyalty._check_key(v_key);
  perform loyalty._lock_key(1, v_key);
  select * into v_existing from loyalty.entries e where e.idempotency_key = v_key;
  if found then
    if v_existing.kind <> 'accrual'
       or v_existing.partner_id is null
       or v_existing.partner_id is distinct from (loyalty._till_partner(req->'partner')).partner
       or v_existing.customer_id is distinct from loyalty._customer_id(req->'customer')
       or v_existing.purchase is distinct from v_purchase then
      perform loyalty._reject('idempotency_conflict');
    end if;
    return jsonb_build_object('entry', loyalty._entry_json(v_existing),
                              'customer', loyalty._customer_now(v_existing.customer_id),
                              'partner', loyalty._partner_now(v_existing.partner_id),
                              'replayed', true,
                              'tier_before', (select c.tier from loyalty.customers c
                                               where c.id = v_existing.customer_id),
                              'awards', loyalty._awards_of(v_existing.id));
  end if;
  if v_purchase not between 1 and 1000000000000 then
    perform loyalty._reject('invalid_amount');
  end if;
  select t.partner, t.cashier into v_partner_id, v_cashier from loyalty._till_partner(req->'partner') t;
  if v_partner_id is null then
    perform loyalty._reject('unknown_partner');
  end if;
  -- Locked for the daily limit: one credit of this partner at a time.
  select * into v_partner from loyalty.partners p where p.id = v_partner_id for update;
  if v_partner.status <> 'approved' then
    perform loyalty._reject('partner_not_approved', jsonb_build_object('status', v_partner.status));
  end if;
  v_customer_id := loyalty._customer_id(req->'customer');
  if v_customer_id is null then
    perform loyalty._reject('unknown_customer');
  end if;
  select * into v_customer from loyalty.customers c where c.id = v_customer_id for update;
  if v_customer.blocked then
    perform loyalty._reject('customer_blocked');
  end if;
  v_tier_before := v_customer.tier;
  v_amount := least(div(div(v_purchase::numeric * v_partner.earn_rate_bps, 10000)
                        * loyalty._tier_multiplier(v_tier_before), 10000), 9223372036854775807)::bigint;
  v_awards := loyalty._campaign_awards(v_customer.id, v_partner.id, v_tier_before, v_amount, (req->>'now')::bigint);
  v_amount := least(v_amount::numeric + (select coalesce(sum((a->>'points')::numeric), 0)
                                           from jsonb_array_elements(v_awards) a), 9223372036854775807)::bigint;
  select least(coalesce(sum(e.amount), 0), 9223372036854775807) into v_used
    from loyalty.entries e
   where e.partner_id = v_partner.id
     and e.created_at >= v_day_start
     and e.kind = 'accrual'
     and not exists (select 1 from loyalty.entries r where r.reverses = e.id);
  if least(v_used + v_amount, 9223372036854775807) > v_partner.daily_credit_limit then
    perform loyalty._reject('daily_limit_exceeded',
      jsonb_build_object('remaining', greatest(v_partner.daily_credit_limit - v_used, 0)));
  end if;
  v_entry := loyalty._append(v_customer.id, 'accrual', v_amount, v_partner.id, v_purchase, v_key,
                             'partner', v_partner.id, null, null, (req->>'now')::bigint, v_cashier);
  insert into loyalty.campaign_awards (entry_id, campaign_id, customer_id, points, created_at)
  select v_entry.id, (a->>'campaign')::bigint, v_customer.id, (a->>'points')::bigint, (req->>'now')::bigint
    from jsonb_array_elements(v_awards) a;
  return jsonb_build_object('entry', loyalty._entry_json(v_entry),
                            'customer', loyalty._customer_now(v_customer.id),
                            'partner', loyalty._partner_json(v_partner),
                            'replayed', false,
                            'tier_before', v_tier_before,
                            'awards', v_awards);
end
$$;

-- Restated from 20261211090400_loyalty_erasure_races: a till's reference too;
-- the request records the cashier.
create or replace function loyalty.open_redemption(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key text := req->>'idempotency_key';
  v_points bigint := (req->>'points')::bigint;
  v_purchase bigint := (req->>'purchase')::bigint;
  v_request loyalty.redemption_requests;
  v_partner loyalty.partners;
  v_partner_id bigint;
  v_cashier bigint;
  v_customer loyalty.customers;
  v_max bigint;
begin
  if v_key is null then
    raise exception 'loyalty: missing idempotency key';
  end if;
  perform loyalty._lock_key(2, v_key);
  select * into v_request from loyalty.redemption_requests r where r.idempotency_key = v_key;
  if found then
    if v_request.partner_id is distinct from (loyalty._till_partner(req->'partner')).partner
       or v_request.customer_id is distinct from loyalty._customer_id(req->'customer')
       or v_request.points <> v_points
       or v_request.purchase <> v_purchase then
      perform loyalty._reject('idempotency_conflict');
    end if;
    return loyalty._redemption_view(v_request, true);
  end if;
  if v_points < 1 or v_purchase not between 1 and 1000000000000 then
    perform loyalty._reject('invalid_amount');
  end if;
  select t.partner, t.cashier into v_partner_id, v_cashier from loyalty._till_partner(req->'partner') t;
  select * into v_partner from loyalty.partners p where p.id = v_partner_id;
  if not found then
    perform loyalty._reject('unknown_partner');
  end if;
  if v_partner.status <> 'approved' then
    perform loyalty._reject('partner_not_approved', jsonb_build_object('status', v_partner.status));
  end if;
  -- Shared, so the customer cannot be blocked or erased until the request is
  -- in (an erasure then declines it); found by Telegram id or code, the row
  -- must still have it once locked.
  select * into v_customer from loyalty.customers c
   where c.id = loyalty._customer_id(req->'customer')
     and (req#>>'{customer,by}' <> 'telegram' or c.telegram_id = (req#>>'{customer,value}')::bigint)
     and (req#>>'{customer,by}' <> 'code' or c.code = req#>>'{customer,value}')
  for share;
  if not found then
    perform loyalty._reject('unknown_customer');
  end if;
  if v_customer.blocked then
    perform loyalty._reject('customer_blocked');
  end if;
  v_max := least(div(v_purchase::numeric * v_partner.max_redeem_share_bps, 10000), 9223372036854775807)::bigint;
  if v_points > v_max then
    perform loyalty._reject('exceeds_max_share', jsonb_build_object('max', v_max));
  end if;
  if v_points > v_customer.balance then
    perform loyalty._reject('insufficient_balance',
      jsonb_build_object('balance', v_customer.balance, 'requested', v_points));
  end if;
  insert into loyalty.redemption_requests (idempotency_key, customer_id, partner_id, points, purchase,
                                           created_at, expires_at, cashier)
  values (v_key, v_customer.id, v_partner.id, v_points, v_purchase, (req->>'now')::bigint,
          (req->>'expires_at')::bigint, v_cashier)
  returning * into v_request;
  return jsonb_build_object('request', loyalty._request_json(v_request),
                            'customer', loyalty._customer_json(v_customer),
                            'partner', loyalty._partner_json(v_partner),
                            'entry', null,
                            'replayed', false,
                            'cashier', (select loyalty._staff_json(s) from loyalty.staff s where s.id = v_cashier));
end
$$;

-- Restated from 20261206090000_loyalty_partner_calls: the redemption entry
-- records the request's cashier.
create or replace function loyalty.confirm_redemption(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_answer record;
  v_request loyalty.redemption_requests;
  v_customer loyalty.customers;
  v_entry loyalty.entries;
  v_status text;
begin
  select * into v_answer from loyalty._answerable(req);
  v_request := v_answer.request;
  if v_answer.expired then
    return jsonb_build_object('rejected', jsonb_build_object('code', 'redemption_expired'));
  end if;
  case v_request.status
    when 'confirmed' then
      return loyalty._redemption_view(v_request, true);
    when 'pending' then
      null;
    else
      perform loyalty._reject('redemption_closed', jsonb_build_object('status', v_request.status));
  end case;
  v_status := (select p.status from loyalty.partners p where p.id = v_request.partner_id);
  if v_status <> 'approved' then
    perform loyalty._reject('partner_not_approved', jsonb_build_object('status', v_status));
  end if;
  select * into v_customer from loyalty.customers c where c.id = v_request.customer_id for update;
  if v_customer.blocked then
    perform loyalty._reject('customer_blocked');
  end if;
  v_entry := loyalty._append(v_request.customer_id, 'redemption', -v_request.points, v_request.partner_id,
                             v_request.purchase, 'redemption:' || v_request.id, 'customer', v_request.customer_id,
                             null, null, (req->>'now')::bigint, v_request.cashier);
  update loyalty.redemption_requests r set status = 'confirmed', entry_id = v_entry.id
   where r.id = v_request.id
  returning * into v_request;
  return loyalty._redemption_view(v_request, false);
end
$$;

-- Restated from 20261211090100_loyalty_stamps: a till's reference too.
-- req: AddStamp; Stamped. Checks in order: unknown_partner,
-- partner_not_approved, no_stamp_card, unknown_customer, customer_blocked;
-- then the key: given before for this partner and customer, it answers that
-- stamp again (`completed` as then, the progress as now, `replayed`); for
-- another partner or customer, idempotency_conflict.
create or replace function loyalty.add_stamp(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key text := req->>'idempotency_key';
  v_now bigint := (req->>'now')::bigint;
  v_partner loyalty.partners;
  v_card loyalty.stamp_cards;
  v_customer loyalty.customers;
  v_visit loyalty.stamp_visits;
  v_row loyalty.stamps;
  v_completed boolean;
begin
  if v_key is null then
    raise exception 'loyalty: missing idempotency key';
  end if;
  perform loyalty._lock_key(5, v_key);
  v_partner := loyalty._approved_till(req->'partner');
  select * into v_card from loyalty.stamp_cards s where s.partner_id = v_partner.id for share;
  if not found then
    perform loyalty._reject('no_stamp_card');
  end if;
  -- Found by Telegram id or code, the row must still have it once locked.
  select * into v_customer from loyalty.customers c
   where c.id = loyalty._customer_id(req->'customer')
     and (req#>>'{customer,by}' <> 'telegram' or c.telegram_id = (req#>>'{customer,value}')::bigint)
     and (req#>>'{customer,by}' <> 'code' or c.code = req#>>'{customer,value}')
  for share;
  if not found then
    perform loyalty._reject('unknown_customer');
  end if;
  if v_customer.blocked then
    perform loyalty._reject('customer_blocked');
  end if;
  select * into v_visit from loyalty.stamp_visits v where v.idempotency_key = v_key;
  if found then
    if v_visit.partner_id <> v_partner.id or v_visit.customer_id <> v_customer.id then
      perform loyalty._reject('idempotency_conflict');
    end if;
    return jsonb_build_object('progress', loyalty._stamp_progress(v_card, v_customer.id),
                              'completed', v_visit.completed,
                              'customer', loyalty._customer_json(v_customer),
                              'replayed', true);
  end if;
  insert into loyalty.stamps as k (partner_id, customer_id, stamps, completed)
  values (v_partner.id, v_customer.id,
          case when 1 >= v_card.needed then 0 else 1 end, case when 1 >= v_card.needed then 1 else 0 end)
  on conflict (partner_id, customer_id) do update
    set stamps = case when k.stamps + 1 >= v_card.needed then 0 else k.stamps + 1 end,
        completed = case when k.stamps + 1 >= v_card.needed then k.completed + 1 else k.completed end
  returning * into v_row;
  -- After a stamp, an empty card is one just filled.
  v_completed := v_row.stamps = 0;
  insert into loyalty.stamp_visits (idempotency_key, partner_id, customer_id, completed, created_at)
  values (v_key, v_partner.id, v_customer.id, v_completed, v_now);
  return jsonb_build_object('progress', loyalty._stamp_progress(v_card, v_customer.id),
                            'completed', v_completed,
                            'customer', loyalty._customer_json(v_customer),
                            'replayed', false);
end
$$;

-- Restated from 20261210090000_loyalty_rewards: a till's reference too.
-- req: UseVoucher; VoucherView.
create or replace function loyalty.use_voucher(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_partner loyalty.partners;
  v_voucher loyalty.vouchers;
begin
  v_partner := loyalty._approved_till(req->'partner');
  select * into v_voucher from loyalty.vouchers v
   where v.code = req->>'code' and v.partner_id = v_partner.id
  for update;
  if not found then
    perform loyalty._reject('unknown_voucher');
  end if;
  if v_voucher.status = 'used' then
    return loyalty._voucher_view(v_voucher, true);
  end if;
  perform loyalty._voucher_open(v_voucher);
  update loyalty.vouchers v set status = 'used', closed_at = (req->>'now')::bigint
   where v.id = v_voucher.id
  returning * into v_voucher;
  return loyalty._voucher_view(v_voucher, false);
end
$$;

-- ---------------------------------------------------------------------------
-- Staff

-- req: InviteStaff; Staff. Checks in order: unknown_partner (owner's
-- references only), partner_not_approved, invalid_invite (a token hash used
-- before), staff_limit (rules::MAX_STAFF cashiers and invitations not expired,
-- not revoked). The partner's row is locked first, so concurrent invitations
-- count one after the other.
create or replace function loyalty.invite_staff(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_max constant bigint := 20; -- rules::MAX_STAFF
  v_now bigint := (req->>'now')::bigint;
  v_token text := req->>'token_sha256_hex';
  v_partner loyalty.partners;
  v_staff loyalty.staff;
begin
  select * into v_partner from loyalty.partners p where p.id = loyalty._partner_id(req->'partner')
  for no key update;
  if not found then
    perform loyalty._reject('unknown_partner');
  end if;
  if v_partner.status <> 'approved' then
    perform loyalty._reject('partner_not_approved', jsonb_build_object('status', v_partner.status));
  end if;
  if exists (select 1 from loyalty.staff s where s.token_sha256 = v_token) then
    perform loyalty._reject('invalid_invite');
  end if;
  if (select count(*) from loyalty.staff s
       where s.partner_id = v_partner.id and s.revoked_at is null
         and (s.joined_at is not null or s.expires_at >= v_now)) >= v_max then
    perform loyalty._reject('staff_limit', jsonb_build_object('max', v_max));
  end if;
  insert into loyalty.staff (partner_id, token_sha256, telegram_id, name, invited_at, expires_at)
  values (v_partner.id, v_token, null, '', v_now, (req->>'expires_at')::bigint)
  on conflict (token_sha256) do nothing
  returning * into v_staff;
  if not found then
    -- Another partner's invitation took the hash after the check above.
    perform loyalty._reject('invalid_invite');
  end if;
  return loyalty._staff_json(v_staff);
end
$$;

-- req: JoinStaff; StaffJoined. In order: invalid_invite for an unknown token;
-- the same user again (not revoked) is a replay; invalid_invite for a
-- revoked, used (by someone else) or expired invitation; partner_not_approved;
-- already_partner for a partner's owner (any status); already_staff for an
-- active cashier (here or elsewhere). Else the user joins, their name trimmed
-- of white space (as Rust's str::trim) and cut to 64 characters.
create or replace function loyalty.join_staff(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_tg bigint := (req->>'telegram_id')::bigint;
  v_now bigint := (req->>'now')::bigint;
  -- White space as Rust's char::is_whitespace has it.
  v_space text := '[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]';
  v_staff loyalty.staff;
  v_partner loyalty.partners;
begin
  -- One join of this user at a time (namespace 7: Telegram users joining
  -- staff), then the invitation's row: two links opened at once by one user
  -- join one, one link opened at once by two users joins one.
  perform loyalty._lock_key(7, v_tg::text);
  select * into v_staff from loyalty.staff s where s.token_sha256 = req->>'token_sha256_hex' for update;
  if not found then
    perform loyalty._reject('invalid_invite');
  end if;
  if v_staff.telegram_id = v_tg and v_staff.revoked_at is null then
    return jsonb_build_object('staff', loyalty._staff_json(v_staff),
                              'partner', loyalty._partner_now(v_staff.partner_id),
                              'replayed', true);
  end if;
  if v_staff.revoked_at is not null or v_staff.telegram_id is not null or v_now > v_staff.expires_at then
    perform loyalty._reject('invalid_invite');
  end if;
  select * into v_partner from loyalty.partners p where p.id = v_staff.partner_id;
  if v_partner.status <> 'approved' then
    perform loyalty._reject('partner_not_approved', jsonb_build_object('status', v_partner.status));
  end if;
  if exists (select 1 from loyalty.partners p where p.telegram_id = v_tg) then
    perform loyalty._reject('already_partner');
  end if;
  if exists (select 1 from loyalty.staff s
              where s.telegram_id = v_tg and s.joined_at is not null and s.revoked_at is null) then
    perform loyalty._reject('already_staff');
  end if;
  update loyalty.staff s
     set telegram_id = v_tg,
         name = left(regexp_replace(coalesce(req->>'name', ''), '^' || v_space || '+|' || v_space || '+$', '', 'g'),
                     64),
         joined_at = v_now
   where s.id = v_staff.id
  returning * into v_staff;
  return jsonb_build_object('staff', loyalty._staff_json(v_staff),
                            'partner', loyalty._partner_json(v_partner),
                            'replayed', false);
end
$$;

-- req: {who: PartnerRef}; the partner's [Staff] (owner's references only,
-- any status; unknown_partner otherwise), newest first, at most 100.
create or replace function loyalty.staff(req jsonb) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_partner bigint := loyalty._partner_id(req->'who');
begin
  if v_partner is null then
    perform loyalty._reject('unknown_partner');
  end if;
  return coalesce((
    select jsonb_agg(loyalty._staff_json(s) order by s.id desc)
      from (select * from loyalty.staff s
             where s.partner_id = v_partner
             order by s.id desc limit 100) s), '[]'::jsonb);
end
$$;

-- req: RevokeStaff; StaffRevoked. unknown_partner (owner's references only,
-- any status), unknown_staff for no such row at this partner; revoked before:
-- a replay. A revoked cashier's till reference no longer resolves.
create or replace function loyalty.revoke_staff(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_partner bigint := loyalty._partner_id(req->'partner');
  v_staff loyalty.staff;
begin
  if v_partner is null then
    perform loyalty._reject('unknown_partner');
  end if;
  select * into v_staff from loyalty.staff s
   where s.id = (req->>'staff')::bigint and s.partner_id = v_partner
  for update;
  if not found then
    perform loyalty._reject('unknown_staff');
  end if;
  if v_staff.revoked_at is not null then
    return jsonb_build_object('staff', loyalty._staff_json(v_staff),
                              'partner', loyalty._partner_now(v_partner),
                              'replayed', true);
  end if;
  update loyalty.staff s set revoked_at = (req->>'now')::bigint
   where s.id = v_staff.id
  returning * into v_staff;
  return jsonb_build_object('staff', loyalty._staff_json(v_staff),
                            'partner', loyalty._partner_now(v_partner),
                            'replayed', false);
end
$$;

insert into loyalty.claimable_functions (name)
values ('invite_staff'), ('join_staff'), ('staff'), ('revoke_staff')
on conflict do nothing;

do $$
declare
  f text;
begin
  foreach f in array array['invite_staff', 'join_staff', 'staff', 'revoke_staff', 'partner', 'look_up_customer',
                           'credit_purchase', 'open_redemption', 'confirm_redemption', 'add_stamp',
                           'use_voucher'] loop
    execute format('revoke all on function loyalty.%I(jsonb) from public, anon, authenticated, service_role', f);
    execute format('grant execute on function loyalty.%I(jsonb) to service_role', f);
  end loop;
  foreach f in array array['_staff_json(loyalty.staff)', '_partner_id(jsonb)', '_till_partner(jsonb)',
                           '_approved_till(jsonb)',
                           '_append(bigint, text, bigint, bigint, bigint, text, text, bigint, bigint, text, bigint, bigint)',
                           '_append(bigint, text, bigint, bigint, bigint, text, text, bigint, bigint, text, bigint)',
                           '_entry_json(loyalty.entries)', '_request_json(loyalty.redemption_requests)',
                           '_redemption_view(loyalty.redemption_requests, boolean)'] loop
    execute format('revoke all on function loyalty.%s from public, anon, authenticated, service_role', f);
  end loop;
end
$$;
