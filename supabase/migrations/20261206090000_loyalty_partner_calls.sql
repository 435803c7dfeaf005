-- One storage call per partner update: the calls a partner's command makes
-- check the caller and return the partner, so the partner bot no longer looks
-- the partner up first.
--   * reverse_entry returns the entry's partner;
--   * set_partner_api_key refuses a partner that is not approved;
--   * partner_stats returns the partner with its figures;
--   * look_up_customer (new): a customer as an approved partner may see them;
--   * a refusal for a partner that is not approved carries its status
--     (`{"code": "partner_not_approved", "status": …}`), so the bot can say
--     where the partner stands without another lookup: credit_purchase,
--     open_redemption and confirm_redemption again, with that change only;
--   * customer_view (new): what a customer's message needs — the customer, the
--     newest entries, the approved partners, one use of a daily quota.

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
    perform loyalty._reject('partner_not_approved', jsonb_build_object('status', v_partner.status));
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
                             null, null, (req->>'now')::bigint);
  update loyalty.redemption_requests r set status = 'confirmed', entry_id = v_entry.id
   where r.id = v_request.id
  returning * into v_request;
  return loyalty._redemption_view(v_request, false);
end
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
                              'partner', loyalty._partner_now(v_existing.partner_id),
                              'replayed', true);
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
  perform 1 from loyalty.customers c where c.id = v_original.customer_id for update;
  if exists (select 1 from loyalty.entries r where r.reverses = v_original.id) then
    perform loyalty._reject('already_reversed');
  end if;
  v_reversal := loyalty._append(v_original.customer_id, 'reversal', -v_original.amount, v_partner.id, null,
                                v_key, 'partner', v_partner.id, v_original.id, null, (req->>'now')::bigint);
  return jsonb_build_object('original', loyalty._entry_json(v_original),
                            'reversal', loyalty._entry_json(v_reversal),
                            'customer', loyalty._customer_now(v_original.customer_id),
                            'partner', loyalty._partner_json(v_partner),
                            'replayed', false);
end
$$;

create or replace function loyalty.set_partner_api_key(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_partner loyalty.partners;
begin
  select * into v_partner from loyalty.partners p where p.id = loyalty._partner_id(req->'who') for update;
  if not found then
    perform loyalty._reject('unknown_partner');
  end if;
  if v_partner.status <> 'approved' then
    perform loyalty._reject('partner_not_approved', jsonb_build_object('status', v_partner.status));
  end if;
  update loyalty.partners p set api_key_sha256 = req->>'key_sha256_hex'
   where p.id = v_partner.id
  returning * into v_partner;
  return loyalty._partner_json(v_partner);
end
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
  return jsonb_build_object('partner', loyalty._partner_now(v_partner),
                            'today', loyalty._period_stats(v_partner, (req->>'today')::bigint),
                            'week', loyalty._period_stats(v_partner, (req->>'week')::bigint));
end
$$;

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
  select * into v_partner from loyalty.partners p where p.id = loyalty._partner_id(req->'partner');
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
                            'customer', loyalty._customer_now(v_customer));
end
$$;

create or replace function loyalty.customer_view(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_customer loyalty.customers;
  v_quota jsonb := 'null'::jsonb;
begin
  select * into v_customer from loyalty.customers c where c.id = loyalty._customer_id(req->'who');
  if not found then
    return 'null'::jsonb;
  end if;
  if jsonb_typeof(req->'quota') = 'object' and not v_customer.blocked then
    v_quota := loyalty.consume_quota(jsonb_build_object('kind', req#>'{quota,kind}',
                                                        'user', v_customer.telegram_id,
                                                        'day', req#>'{quota,day}',
                                                        'limit', req#>'{quota,limit}'));
  end if;
  return loyalty.customer_summary(jsonb_build_object('who', jsonb_build_object('by', 'id', 'value', v_customer.id),
                                                     'recent', req->'recent'))
         || jsonb_build_object('partners', case when coalesce((req->>'partners')::boolean, false)
                                                then loyalty.list_partners('{"status": "approved"}'::jsonb)
                                                else '[]'::jsonb end,
                               'quota', v_quota);
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
    'claim_broadcast_batch', 'record_broadcast', 'pending_broadcasts'
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

revoke all on function loyalty.look_up_customer(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.look_up_customer(jsonb) to service_role;
revoke all on function loyalty.customer_view(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.customer_view(jsonb) to service_role;
