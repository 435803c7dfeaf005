-- loyalty-rs storage schema (2/2): one function per use case of the Storage port.
--
-- Each public function takes one `jsonb` argument shaped like the serde JSON of
-- the Rust request (see loyalty-core/src/ports/storage.rs) and returns `jsonb`
-- shaped like the serde JSON of the Rust response. A call does its whole job
-- atomically in one statement. A rule of the program that refuses the call
-- raises SQLSTATE 'LY001' with the JSON of `Rejection` as the message, so
-- nothing changes. The one refusal that changes something (answering a pending
-- redemption request after it expired marks it expired) cannot raise, so it is
-- returned as `{"rejected": <Rejection>}` instead.
--
-- Concurrency: READ COMMITTED is enough. Calls that carry an idempotency key
-- take a transaction-scoped advisory lock on the key first, so concurrent calls
-- with one key run one after the other and the later ones see the first result
-- (a replay). Balances move only by a conditional
-- `UPDATE customers SET balance = balance + x WHERE ... AND balance + x >= 0`;
-- rows that decide a rule (the customer, the partner for its daily limit, the
-- redemption request, the broadcast job) are locked with SELECT ... FOR UPDATE
-- before the rule is checked. Lock order: key, partner, request, customer.
--
-- Functions are SECURITY DEFINER with an empty search_path and fully qualified
-- names; only `service_role` may execute the public ones.

-- ---------------------------------------------------------------------------
-- Internal helpers (names start with an underscore; no role may call them)

create or replace function loyalty._reject(p_code text, p_extra jsonb default '{}'::jsonb) returns void
language plpgsql
set search_path = ''
as $$
begin
  raise exception using
    errcode = 'LY001',
    message = (jsonb_build_object('code', p_code) || p_extra)::text,
    hint = 'loyalty rejection: a rule of the program refused the call; nothing changed';
end
$$;

-- Refuses caller-supplied keys with the prefixes of keys the store derives itself.
create or replace function loyalty._check_key(p_key text) returns void
language plpgsql
set search_path = ''
as $$
begin
  if p_key is null then
    raise exception 'loyalty: missing idempotency key';
  end if;
  if starts_with(p_key, 'welcome:') or starts_with(p_key, 'referral:') or starts_with(p_key, 'redemption:') then
    perform loyalty._reject('idempotency_conflict');
  end if;
end
$$;

-- Serialises every transaction using the same key in the same namespace until it ends.
-- Namespaces: 1 = ledger entries, 2 = redemption requests, 3 = broadcast jobs.
create or replace function loyalty._lock_key(p_namespace int, p_key text) returns void
language sql
set search_path = ''
as $$
  select pg_advisory_xact_lock(1819243372 + p_namespace, hashtext(p_key));
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
    'created_at', c.created_at) end;
$$;

create or replace function loyalty._partner_json(p loyalty.partners) returns jsonb
language sql
immutable
set search_path = ''
as $$
  select case when p.id is null then null else jsonb_build_object(
    'id', p.id,
    'telegram_id', p.telegram_id,
    'name', p.name,
    'category', p.category,
    'status', p.status,
    'terms', jsonb_build_object(
      'earn_rate_bps', p.earn_rate_bps,
      'max_redeem_share_bps', p.max_redeem_share_bps,
      'daily_credit_limit', p.daily_credit_limit),
    'language', p.language,
    'has_api_key', p.api_key_sha256 is not null,
    'created_at', p.created_at) end;
$$;

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
    'created_at', e.created_at) end;
$$;

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
    'entry', r.entry_id);
$$;

create or replace function loyalty._job_json(j loyalty.broadcast_jobs) returns jsonb
language sql
immutable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', j.id,
    'audience', j.audience,
    'text', j.text,
    'admin_chat', j.admin_chat,
    'total', j.total,
    'sent', j.sent,
    'failed', j.failed,
    'cursor', j.cursor,
    'done', j.done,
    'created_at', j.created_at);
$$;

-- Resolves a CustomerRef (`{"by": "id"|"telegram"|"code", "value": ...}`) to an id, or null.
create or replace function loyalty._customer_id(p_ref jsonb) returns bigint
language plpgsql
stable
set search_path = ''
as $$
declare
  v_id bigint;
begin
  case p_ref->>'by'
    when 'id' then
      select c.id into v_id from loyalty.customers c where c.id = (p_ref->>'value')::bigint;
    when 'telegram' then
      select c.id into v_id from loyalty.customers c where c.telegram_id = (p_ref->>'value')::bigint;
    when 'code' then
      select c.id into v_id from loyalty.customers c where c.code = p_ref->>'value';
    else
      raise exception 'loyalty: malformed customer reference %', p_ref;
  end case;
  return v_id;
end
$$;

-- Resolves a PartnerRef (`{"by": "id"|"telegram", "value": ...}`) to an id, or null.
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
    else
      raise exception 'loyalty: malformed partner reference %', p_ref;
  end case;
  return v_id;
end
$$;

create or replace function loyalty._customer_now(p_id bigint) returns jsonb
language sql
stable
set search_path = ''
as $$
  select loyalty._customer_json(c) from loyalty.customers c where c.id = p_id;
$$;

create or replace function loyalty._partner_now(p_id bigint) returns jsonb
language sql
stable
set search_path = ''
as $$
  select loyalty._partner_json(p) from loyalty.partners p where p.id = p_id;
$$;

create or replace function loyalty._entry_now(p_id bigint) returns jsonb
language sql
stable
set search_path = ''
as $$
  select loyalty._entry_json(e) from loyalty.entries e where e.id = p_id;
$$;

-- Appends a ledger entry and moves the balance with one conditional update, which
-- also locks the customer row. Refuses a balance that would go below zero
-- (insufficient_balance) or past the bigint range (invalid_amount).
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
                               author_type, author_id, reverses, reason, created_at)
  values (p_customer, p_kind, p_amount, p_partner, p_purchase, p_key,
          p_author_type, p_author_id, p_reverses, p_reason, p_now)
  returning * into v_entry;
  return v_entry;
end
$$;

-- Figures of a set of entries since a time (PeriodStats).
create or replace function loyalty._period_stats(p_partner bigint, p_since bigint) returns jsonb
language sql
stable
set search_path = ''
as $$
  with e as (
    select e.customer_id, e.kind, e.amount,
           exists (select 1 from loyalty.entries r where r.reverses = e.id) as reversed
      from loyalty.entries e
     where e.created_at >= p_since
       and e.kind in ('accrual', 'redemption')
       and (p_partner is null or e.partner_id = p_partner)
  )
  select jsonb_build_object(
    'customers', count(distinct e.customer_id),
    'purchases', count(*) filter (where e.kind = 'accrual' and not e.reversed),
    'issued', least(coalesce(sum(e.amount) filter (where e.kind = 'accrual' and not e.reversed), 0),
                    9223372036854775807),
    'redeemed', least(coalesce(-sum(e.amount) filter (where e.kind = 'redemption' and not e.reversed), 0),
                      9223372036854775807))
  from e;
$$;

-- Audience of a broadcast after a cursor, in cursor order.
create or replace function loyalty._audience(p_audience text, p_after bigint, p_limit bigint)
returns table (pos bigint, chat_id bigint, language text)
language sql
stable
set search_path = ''
as $$
  (select c.id, c.telegram_id, c.language
     from loyalty.customers c
    where p_audience = 'customers' and not c.blocked and c.id > p_after
    order by c.id
    limit p_limit)
  union all
  (select p.id, p.telegram_id, p.language
     from loyalty.partners p
    where p_audience = 'partners' and p.status = 'approved' and p.id > p_after
    order by p.id
    limit p_limit)
  order by 1;
$$;

-- ---------------------------------------------------------------------------
-- Customers

create or replace function loyalty.register_customer(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_tg bigint := (req->>'telegram_id')::bigint;
  v_code text := req->>'code';
  v_welcome bigint := (req->>'welcome_bonus')::bigint;
  v_referral bigint := (req->>'referral_bonus')::bigint;
  v_now bigint := (req->>'now')::bigint;
  v_customer loyalty.customers;
  v_referrer bigint;
  v_welcome_entry loyalty.entries;
  v_referral_entry loyalty.entries;
begin
  if v_welcome not between 0 and 1000000000 or v_referral not between 0 and 1000000000 then
    perform loyalty._reject('invalid_amount');
  end if;
  select * into v_customer from loyalty.customers c where c.telegram_id = v_tg;
  if found then
    return jsonb_build_object('customer', loyalty._customer_json(v_customer), 'created', false,
                              'welcome', null, 'referral', null);
  end if;
  if exists (select 1 from loyalty.customers c where c.code = v_code) then
    perform loyalty._reject('code_taken');
  end if;
  if req->>'referrer' is not null and req->>'referrer' <> v_code then
    select c.id into v_referrer from loyalty.customers c where c.code = req->>'referrer' and not c.blocked;
  end if;
  begin
    insert into loyalty.customers (telegram_id, code, first_name, username, language, referrer, created_at)
    values (v_tg, v_code, req->>'first_name', req->>'username', req->>'language', v_referrer, v_now)
    on conflict (telegram_id) do nothing
    returning * into v_customer;
  exception when unique_violation then
    -- The code was taken meanwhile, or the same user signed up concurrently.
    v_customer := null;
  end;
  if v_customer.id is null then
    select * into v_customer from loyalty.customers c where c.telegram_id = v_tg;
    if found then
      return jsonb_build_object('customer', loyalty._customer_json(v_customer), 'created', false,
                                'welcome', null, 'referral', null);
    end if;
    perform loyalty._reject('code_taken');
  end if;
  if v_welcome > 0 then
    v_welcome_entry := loyalty._append(v_customer.id, 'welcome_bonus', v_welcome, null, null,
      'welcome:' || v_customer.id, 'system', null, null, null, v_now);
  end if;
  if v_referrer is not null and v_referral > 0 then
    v_referral_entry := loyalty._append(v_referrer, 'referral_bonus', v_referral, null, null,
      'referral:' || v_customer.id, 'system', null, null, null, v_now);
  end if;
  return jsonb_build_object(
    'customer', loyalty._customer_now(v_customer.id),
    'created', true,
    'welcome', loyalty._entry_json(v_welcome_entry),
    'referral', case when v_referral_entry.id is null then null
                     else jsonb_build_array(loyalty._customer_now(v_referrer),
                                            loyalty._entry_json(v_referral_entry)) end);
end
$$;

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
               limit (req->>'recent')::bigint) e), '[]'::jsonb));
end
$$;

create or replace function loyalty.customer_entries(req jsonb) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(loyalty._entry_json(e) order by e.id desc), '[]'::jsonb)
    from (select * from loyalty.entries e
           where e.customer_id = (req->>'customer')::bigint
             and (req->'before' is null or req->'before' = 'null'::jsonb or e.id < (req->>'before')::bigint)
           order by e.id desc
           limit (req->>'limit')::bigint) e;
$$;

create or replace function loyalty.set_language(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_customer loyalty.customers;
begin
  update loyalty.customers c set language = req->>'language'
   where c.id = loyalty._customer_id(req->'who')
  returning * into v_customer;
  if not found then
    perform loyalty._reject('unknown_customer');
  end if;
  return loyalty._customer_json(v_customer);
end
$$;

create or replace function loyalty.set_blocked(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_blocked boolean := (req->>'blocked')::boolean;
  v_customer loyalty.customers;
begin
  select * into v_customer from loyalty.customers c where c.id = loyalty._customer_id(req->'who') for update;
  if not found then
    perform loyalty._reject('unknown_customer');
  end if;
  if v_customer.blocked <> v_blocked then
    update loyalty.customers c set blocked = v_blocked where c.id = v_customer.id returning * into v_customer;
    insert into loyalty.audit_log (admin, action, customer_id, details, at)
    values ((req->>'admin')::bigint, 'blocked', v_customer.id, jsonb_build_object('blocked', v_blocked),
            (req->>'now')::bigint);
  end if;
  return loyalty._customer_json(v_customer);
end
$$;

-- ---------------------------------------------------------------------------
-- Credits, redemptions, reversals, adjustments

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
  v_customer_id bigint;
  v_amount bigint;
  v_used numeric;
  v_entry loyalty.entries;
begin
  perform loyalty._check_key(v_key);
  perform loyalty._lock_key(1, v_key);
  select * into v_existing from loyalty.entries e where e.idempotency_key = v_key;
  if found then
    if v_existing.kind <> 'accrual'
       or v_existing.partner_id is null
       or v_existing.partner_id is distinct from loyalty._partner_id(req->'partner')
       or v_existing.customer_id is distinct from loyalty._customer_id(req->'customer')
       or v_existing.purchase is distinct from v_purchase then
      perform loyalty._reject('idempotency_conflict');
    end if;
    return jsonb_build_object('entry', loyalty._entry_json(v_existing),
                              'customer', loyalty._customer_now(v_existing.customer_id),
                              'partner', loyalty._partner_now(v_existing.partner_id),
                              'replayed', true);
  end if;
  if v_purchase not between 1 and 1000000000000 then
    perform loyalty._reject('invalid_amount');
  end if;
  v_partner_id := loyalty._partner_id(req->'partner');
  if v_partner_id is null then
    perform loyalty._reject('unknown_partner');
  end if;
  -- Locked for the daily limit: one credit of this partner at a time.
  select * into v_partner from loyalty.partners p where p.id = v_partner_id for update;
  if v_partner.status <> 'approved' then
    perform loyalty._reject('partner_not_approved');
  end if;
  v_customer_id := loyalty._customer_id(req->'customer');
  if v_customer_id is null then
    perform loyalty._reject('unknown_customer');
  end if;
  select * into v_customer from loyalty.customers c where c.id = v_customer_id for update;
  if v_customer.blocked then
    perform loyalty._reject('customer_blocked');
  end if;
  v_amount := least(div(v_purchase::numeric * v_partner.earn_rate_bps, 10000), 9223372036854775807)::bigint;
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
                             'partner', v_partner.id, null, null, (req->>'now')::bigint);
  return jsonb_build_object('entry', loyalty._entry_json(v_entry),
                            'customer', loyalty._customer_now(v_customer.id),
                            'partner', loyalty._partner_json(v_partner),
                            'replayed', false);
end
$$;

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
    'replayed', p_replayed);
$$;

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
  v_customer loyalty.customers;
  v_max bigint;
begin
  if v_key is null then
    raise exception 'loyalty: missing idempotency key';
  end if;
  perform loyalty._lock_key(2, v_key);
  select * into v_request from loyalty.redemption_requests r where r.idempotency_key = v_key;
  if found then
    if v_request.partner_id is distinct from loyalty._partner_id(req->'partner')
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
  select * into v_partner from loyalty.partners p where p.id = loyalty._partner_id(req->'partner');
  if not found then
    perform loyalty._reject('unknown_partner');
  end if;
  if v_partner.status <> 'approved' then
    perform loyalty._reject('partner_not_approved');
  end if;
  select * into v_customer from loyalty.customers c where c.id = loyalty._customer_id(req->'customer');
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
                                           created_at, expires_at)
  values (v_key, v_customer.id, v_partner.id, v_points, v_purchase, (req->>'now')::bigint,
          (req->>'expires_at')::bigint)
  returning * into v_request;
  return jsonb_build_object('request', loyalty._request_json(v_request),
                            'customer', loyalty._customer_json(v_customer),
                            'partner', loyalty._partner_json(v_partner),
                            'entry', null,
                            'replayed', false);
end
$$;

-- First steps of answering a request (AnswerRedemption): find and lock it, check
-- the customer, and expire it when it is pending past expires_at. Returns the
-- locked request; `expired` tells the caller to return the expiry refusal.
create or replace function loyalty._answerable(req jsonb, out request loyalty.redemption_requests,
                                               out expired boolean)
language plpgsql
set search_path = ''
as $$
declare
  v_customer bigint;
begin
  expired := false;
  select * into request from loyalty.redemption_requests r where r.id = (req->>'id')::bigint for update;
  if not found then
    perform loyalty._reject('unknown_redemption');
  end if;
  v_customer := loyalty._customer_id(req->'customer');
  if v_customer is null then
    perform loyalty._reject('unknown_customer');
  end if;
  if request.customer_id <> v_customer then
    perform loyalty._reject('not_your_redemption');
  end if;
  if request.status = 'pending' and (req->>'now')::bigint > request.expires_at then
    update loyalty.redemption_requests r set status = 'expired' where r.id = request.id returning * into request;
    expired := true;
  end if;
end
$$;

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
  if (select p.status from loyalty.partners p where p.id = v_request.partner_id) <> 'approved' then
    perform loyalty._reject('partner_not_approved');
  end if;
  select * into v_customer from loyalty.customers c where c.id = v_request.customer_id for update;
  if v_customer.blocked then
    perform loyalty._reject('customer_blocked');
  end if;
  v_entry := loyalty._append(v_request.customer_id, 'redemption', -v_request.points, v_request.partner_id,
                             v_request.purchase, 'redemption:' || v_request.id, 'customer', v_request.customer_id,
                             null, null, (req->>'now')::bigint);
  update loyalty.redemption_requests r set status = 'confirmed', entry_id = v_entry.id
   where r.id = v_request.id
  returning * into v_request;
  return loyalty._redemption_view(v_request, false);
end
$$;

create or replace function loyalty.decline_redemption(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_answer record;
  v_request loyalty.redemption_requests;
begin
  select * into v_answer from loyalty._answerable(req);
  v_request := v_answer.request;
  if v_answer.expired then
    return jsonb_build_object('rejected', jsonb_build_object('code', 'redemption_expired'));
  end if;
  case v_request.status
    when 'declined' then
      return loyalty._redemption_view(v_request, true);
    when 'pending' then
      update loyalty.redemption_requests r set status = 'declined' where r.id = v_request.id
      returning * into v_request;
      return loyalty._redemption_view(v_request, false);
    else
      perform loyalty._reject('redemption_closed', jsonb_build_object('status', v_request.status));
  end case;
  return null;
end
$$;

create or replace function loyalty.expire_redemptions(req jsonb) returns jsonb
language sql
security definer
set search_path = ''
as $$
  with expired as (
    update loyalty.redemption_requests r
       set status = 'expired'
     where r.status = 'pending' and r.expires_at < (req->>'now')::bigint
    returning r
  )
  select coalesce(jsonb_agg(loyalty._request_json(x.r) order by (x.r).id), '[]'::jsonb) from expired x;
$$;

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
                              'replayed', true);
  end if;
  select * into v_partner from loyalty.partners p where p.id = loyalty._partner_id(req->'partner');
  if not found then
    perform loyalty._reject('unknown_partner');
  end if;
  if v_partner.status <> 'approved' then
    perform loyalty._reject('partner_not_approved');
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
  perform 1 from loyalty.customers c where c.id = v_original.customer_id for update;
  if exists (select 1 from loyalty.entries r where r.reverses = v_original.id) then
    perform loyalty._reject('already_reversed');
  end if;
  v_reversal := loyalty._append(v_original.customer_id, 'reversal', -v_original.amount, v_partner.id, null,
                                v_key, 'partner', v_partner.id, v_original.id, null, (req->>'now')::bigint);
  return jsonb_build_object('original', loyalty._entry_json(v_original),
                            'reversal', loyalty._entry_json(v_reversal),
                            'customer', loyalty._customer_now(v_original.customer_id),
                            'replayed', false);
end
$$;

create or replace function loyalty.adjust_balance(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key text := req->>'idempotency_key';
  v_amount bigint := (req->>'amount')::bigint;
  v_admin bigint := (req->>'admin')::bigint;
  v_existing loyalty.entries;
  v_customer_id bigint;
  v_entry loyalty.entries;
begin
  perform loyalty._check_key(v_key);
  perform loyalty._lock_key(1, v_key);
  select * into v_existing from loyalty.entries e where e.idempotency_key = v_key;
  if found then
    if v_existing.kind <> 'adjustment'
       or v_existing.customer_id is distinct from loyalty._customer_id(req->'customer')
       or v_existing.amount <> v_amount
       or v_existing.reason is distinct from req->>'reason'
       or v_existing.author_type <> 'admin'
       or v_existing.author_id is distinct from v_admin then
      perform loyalty._reject('idempotency_conflict');
    end if;
    return jsonb_build_object('entry', loyalty._entry_json(v_existing),
                              'customer', loyalty._customer_now(v_existing.customer_id),
                              'replayed', true);
  end if;
  if v_amount = 0 or abs(v_amount::numeric) > 1000000000 then
    perform loyalty._reject('invalid_amount');
  end if;
  v_customer_id := loyalty._customer_id(req->'customer');
  if v_customer_id is null then
    perform loyalty._reject('unknown_customer');
  end if;
  v_entry := loyalty._append(v_customer_id, 'adjustment', v_amount, null, null, v_key, 'admin', v_admin, null,
                             req->>'reason', (req->>'now')::bigint);
  insert into loyalty.audit_log (admin, action, customer_id, entry_id, details, at)
  values (v_admin, 'adjusted', v_customer_id, v_entry.id,
          jsonb_build_object('amount', v_amount, 'reason', req->>'reason'), (req->>'now')::bigint);
  return jsonb_build_object('entry', loyalty._entry_json(v_entry),
                            'customer', loyalty._customer_now(v_customer_id),
                            'replayed', false);
end
$$;

-- ---------------------------------------------------------------------------
-- Partners

create or replace function loyalty.apply_partner(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_tg bigint := (req->>'telegram_id')::bigint;
  v_partner loyalty.partners;
begin
  insert into loyalty.partners (telegram_id, name, category, earn_rate_bps, max_redeem_share_bps,
                                daily_credit_limit, language, created_at)
  values (v_tg, req->>'name', req->>'category', (req#>>'{terms,earn_rate_bps}')::bigint,
          (req#>>'{terms,max_redeem_share_bps}')::bigint, (req#>>'{terms,daily_credit_limit}')::bigint,
          req->>'language', (req->>'now')::bigint)
  on conflict (telegram_id) do nothing
  returning * into v_partner;
  if found then
    return jsonb_build_object('partner', loyalty._partner_json(v_partner), 'created', true);
  end if;
  select * into v_partner from loyalty.partners p where p.telegram_id = v_tg for update;
  case v_partner.status
    when 'applied' then
      return jsonb_build_object('partner', loyalty._partner_json(v_partner), 'created', false);
    when 'rejected' then
      update loyalty.partners p
         set status = 'applied',
             name = req->>'name',
             category = req->>'category',
             earn_rate_bps = (req#>>'{terms,earn_rate_bps}')::bigint,
             max_redeem_share_bps = (req#>>'{terms,max_redeem_share_bps}')::bigint,
             daily_credit_limit = (req#>>'{terms,daily_credit_limit}')::bigint,
             language = req->>'language',
             created_at = (req->>'now')::bigint
       where p.id = v_partner.id
      returning * into v_partner;
      return jsonb_build_object('partner', loyalty._partner_json(v_partner), 'created', true);
    else
      perform loyalty._reject('already_partner');
  end case;
  return null;
end
$$;

create or replace function loyalty.decide_partner(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_decision text := req->>'decision';
  v_partner loyalty.partners;
  v_from text;
  v_to text;
begin
  select * into v_partner from loyalty.partners p where p.id = (req->>'partner')::bigint for update;
  if not found then
    perform loyalty._reject('unknown_partner');
  end if;
  v_from := v_partner.status;
  v_to := case
    when v_decision = 'approve' and v_from in ('approved', 'applied', 'suspended') then 'approved'
    when v_decision = 'reject' and v_from in ('rejected', 'applied') then 'rejected'
    when v_decision = 'suspend' and v_from in ('suspended', 'approved') then 'suspended'
  end;
  if v_to is null then
    perform loyalty._reject('invalid_transition');
  end if;
  if v_to <> v_from then
    update loyalty.partners p set status = v_to where p.id = v_partner.id returning * into v_partner;
    insert into loyalty.audit_log (admin, action, partner_id, details, at)
    values ((req->>'admin')::bigint, 'partner_decided', v_partner.id,
            jsonb_build_object('decision', v_decision, 'status', v_to), (req->>'now')::bigint);
  end if;
  return jsonb_build_object('partner', loyalty._partner_json(v_partner), 'changed', v_to <> v_from);
end
$$;

create or replace function loyalty.partner(req jsonb) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(loyalty._partner_now(loyalty._partner_id(req->'who')), 'null'::jsonb);
$$;

create or replace function loyalty.list_partners(req jsonb) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(loyalty._partner_json(p) order by p.created_at, p.id), '[]'::jsonb)
    from loyalty.partners p
   where req->'status' is null or req->'status' = 'null'::jsonb or p.status = req->>'status';
$$;

create or replace function loyalty.set_partner_api_key(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_partner loyalty.partners;
begin
  update loyalty.partners p set api_key_sha256 = req->>'key_sha256_hex'
   where p.id = loyalty._partner_id(req->'who')
  returning * into v_partner;
  if not found then
    perform loyalty._reject('unknown_partner');
  end if;
  return loyalty._partner_json(v_partner);
end
$$;

create or replace function loyalty.partner_by_api_key(req jsonb) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((select loyalty._partner_json(p) from loyalty.partners p
                    where p.api_key_sha256 = req->>'key_sha256_hex'), 'null'::jsonb);
$$;

create or replace function loyalty.partner_stats(req jsonb) returns jsonb
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
  return jsonb_build_object('today', loyalty._period_stats(v_partner, (req->>'today')::bigint),
                            'week', loyalty._period_stats(v_partner, (req->>'week')::bigint));
end
$$;

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
    'today', loyalty._period_stats(null, (req->>'today')::bigint));
$$;

-- ---------------------------------------------------------------------------
-- Updates, quotas, broadcasts

create or replace function loyalty.claim_update(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into loyalty.processed_updates (bot, update_id, claimed_at)
  values (req->>'bot', (req->>'update_id')::bigint, (req->>'now')::bigint)
  on conflict do nothing;
  return to_jsonb(found);
end
$$;

create or replace function loyalty.release_update(req jsonb) returns jsonb
language sql
security definer
set search_path = ''
as $$
  delete from loyalty.processed_updates u where u.bot = req->>'bot' and u.update_id = (req->>'update_id')::bigint;
  select 'null'::jsonb;
$$;

create or replace function loyalty.consume_quota(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_limit bigint := (req->>'limit')::bigint;
begin
  if v_limit <= 0 then
    return 'false'::jsonb;
  end if;
  insert into loyalty.quotas as q (kind, telegram_id, day, used)
  values (req->>'kind', (req->>'user')::bigint, (req->>'day')::bigint, 1)
  on conflict (kind, telegram_id, day) do update set used = q.used + 1 where q.used < v_limit;
  return to_jsonb(found);
end
$$;

create or replace function loyalty.create_broadcast(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key text := req->>'idempotency_key';
  v_job loyalty.broadcast_jobs;
begin
  if v_key is null then
    raise exception 'loyalty: missing idempotency key';
  end if;
  perform loyalty._lock_key(3, v_key);
  select * into v_job from loyalty.broadcast_jobs j where j.idempotency_key = v_key;
  if found then
    if v_job.audience <> req->>'audience' or v_job.text <> req->>'text'
       or v_job.admin_chat <> (req->>'admin_chat')::bigint then
      perform loyalty._reject('idempotency_conflict');
    end if;
    return loyalty._job_json(v_job);
  end if;
  insert into loyalty.broadcast_jobs (idempotency_key, audience, text, admin_chat, total, created_at)
  values (v_key, req->>'audience', req->>'text', (req->>'admin_chat')::bigint,
          least((select count(*) from loyalty._audience(req->>'audience', -9223372036854775808, null)), 4294967295),
          (req->>'now')::bigint)
  returning * into v_job;
  return loyalty._job_json(v_job);
end
$$;

create or replace function loyalty.claim_broadcast_batch(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_job loyalty.broadcast_jobs;
  v_recipients jsonb;
  v_cursor bigint;
begin
  select * into v_job from loyalty.broadcast_jobs j where j.id = (req->>'job')::bigint for update;
  if not found then
    raise exception 'loyalty: unknown broadcast job %', req->>'job' using errcode = 'LY002';
  end if;
  if v_job.done then
    return jsonb_build_object('job', loyalty._job_json(v_job), 'recipients', '[]'::jsonb);
  end if;
  select coalesce(jsonb_agg(jsonb_build_object('chat_id', a.chat_id, 'language', a.language) order by a.pos),
                  '[]'::jsonb),
         coalesce(max(a.pos), v_job.cursor)
    into v_recipients, v_cursor
    from loyalty._audience(v_job.audience, v_job.cursor, (req->>'limit')::bigint) a;
  update loyalty.broadcast_jobs j
     set cursor = v_cursor,
         done = not exists (select 1 from loyalty._audience(v_job.audience, v_cursor, 1))
   where j.id = v_job.id
  returning * into v_job;
  return jsonb_build_object('job', loyalty._job_json(v_job), 'recipients', v_recipients);
end
$$;

create or replace function loyalty.record_broadcast(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_job loyalty.broadcast_jobs;
begin
  update loyalty.broadcast_jobs j
     set sent = least(j.sent + (req->>'sent')::bigint, 4294967295),
         failed = least(j.failed + (req->>'failed')::bigint, 4294967295)
   where j.id = (req->>'job')::bigint
  returning * into v_job;
  if not found then
    raise exception 'loyalty: unknown broadcast job %', req->>'job' using errcode = 'LY002';
  end if;
  return loyalty._job_json(v_job);
end
$$;

create or replace function loyalty.pending_broadcasts(req jsonb) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(loyalty._job_json(j) order by j.id), '[]'::jsonb)
    from loyalty.broadcast_jobs j
   where not j.done;
$$;

-- ---------------------------------------------------------------------------
-- Privileges: only service_role (the server) may call the public functions.

revoke all on all functions in schema loyalty from public, anon, authenticated, service_role;
grant usage on schema loyalty to service_role;

do $$
declare
  f text;
begin
  foreach f in array array[
    'register_customer', 'customer_summary', 'customer_entries', 'set_language', 'set_blocked',
    'credit_purchase', 'open_redemption', 'confirm_redemption', 'decline_redemption', 'expire_redemptions',
    'reverse_entry', 'adjust_balance', 'apply_partner', 'decide_partner', 'partner', 'list_partners',
    'set_partner_api_key', 'partner_by_api_key', 'partner_stats', 'program_stats', 'claim_update',
    'release_update', 'consume_quota', 'create_broadcast', 'claim_broadcast_batch', 'record_broadcast',
    'pending_broadcasts'
  ] loop
    execute format('grant execute on function loyalty.%I(jsonb) to service_role', f);
    execute format('comment on function loyalty.%I(jsonb) is %L', f,
      'loyalty-rs Storage::' || f || ': jsonb request in, jsonb response out; atomic; see docs/SUPABASE.md');
  end loop;
end
$$;
