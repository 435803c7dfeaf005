-- loyalty-rs storage schema: no write for a customer slips past their erasure.
--
-- erase_customer (20261211090000_loyalty_personal_data) locks the customer's
-- row FOR UPDATE and turns it into a blocked tombstone (Telegram id := -id).
-- Three calls still decided on the customer without holding their row, or
-- locked it by id without checking it was still the customer they had looked
-- up, so a call racing an erasure could write for the tombstone after the
-- erasure committed:
--   * claim_reward read the customer and checked `blocked` unlocked, then
--     _append debited the balance: a voucher issued to the tombstone;
--   * set_birthday found the id by Telegram id, then locked it by id: a
--     birthday inserted on the tombstone, after the erasure deleted it;
--   * open_redemption checked `blocked` unlocked and inserted a request: a
--     request left pending on the tombstone, after the erasure declined them.
-- Each now locks the customer's row before deciding on it (claim_reward FOR
-- UPDATE, as it debits; set_birthday FOR UPDATE as before; open_redemption
-- FOR SHARE, as add_stamp, since it only needs the row unchanged), and once
-- locked the row must still have the Telegram id or code it was found by, as
-- erase_customer and add_stamp check. So a call waiting on an erasure answers
-- as after it: unknown_customer by the old Telegram id, customer_blocked by id
-- or code (set_birthday, which never refused blocked customers, answers
-- unknown_customer by the old Telegram id only). Every other rule, every
-- rejection and their order are as before.
--
-- Lock order as everywhere (key → partner → reward/request/voucher →
-- customer): claim_reward now locks the reward before the customer, still
-- deciding on the customer first (unknown_customer, customer_blocked, then
-- unknown_reward); open_redemption locks only the customer (the request it
-- inserts is new); set_birthday locks only the customer. Safe to run again.

-- Restated from 20261210090000_loyalty_rewards.
-- req: ClaimReward; VoucherView.
create or replace function loyalty.claim_reward(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key text := req->>'idempotency_key';
  v_now bigint := (req->>'now')::bigint;
  v_customer loyalty.customers;
  v_customer_id bigint;
  v_existing loyalty.entries;
  v_voucher loyalty.vouchers;
  v_reward loyalty.rewards;
  v_reward_found boolean;
  v_partner_status text;
  v_entry loyalty.entries;
begin
  perform loyalty._check_key(v_key);
  perform loyalty._lock_key(1, v_key);
  select * into v_existing from loyalty.entries e where e.idempotency_key = v_key;
  if found then
    select * into v_voucher from loyalty.vouchers v where v.entry_id = v_existing.id;
    if not found or v_voucher.customer_id is distinct from loyalty._customer_id(req->'customer')
       or v_voucher.reward_id <> (req->>'reward')::bigint then
      perform loyalty._reject('idempotency_conflict');
    end if;
    return loyalty._voucher_view(v_voucher, true);
  end if;
  v_customer_id := loyalty._customer_id(req->'customer');
  -- The lock order: the reward, then the customer, both before deciding on
  -- either (the customer's refusals still come first).
  select * into v_reward from loyalty.rewards w where w.id = (req->>'reward')::bigint for update;
  v_reward_found := found;
  -- Found by Telegram id or code, the row must still have it once locked: an
  -- erasure that committed meanwhile makes the old Telegram id unknown.
  select * into v_customer from loyalty.customers c
   where c.id = v_customer_id
     and (req#>>'{customer,by}' <> 'telegram' or c.telegram_id = (req#>>'{customer,value}')::bigint)
     and (req#>>'{customer,by}' <> 'code' or c.code = req#>>'{customer,value}')
  for update;
  if not found then
    perform loyalty._reject('unknown_customer');
  end if;
  if v_customer.blocked then
    perform loyalty._reject('customer_blocked');
  end if;
  if not v_reward_found then
    perform loyalty._reject('unknown_reward');
  end if;
  v_partner_status := (select p.status from loyalty.partners p where p.id = v_reward.partner_id);
  if v_reward.status <> 'active' or v_partner_status <> 'approved'
     or not coalesce(v_reward.available_from <= v_now, true)
     or not coalesce(v_now < v_reward.available_until, true) then
    perform loyalty._reject('reward_unavailable');
  end if;
  if v_reward.stock is not null and v_reward.claimed >= v_reward.stock then
    perform loyalty._reject('out_of_stock');
  end if;
  if exists (select 1 from loyalty.vouchers v where v.code = req->>'code') then
    perform loyalty._reject('code_taken');
  end if;
  v_entry := loyalty._append(v_customer.id, 'redemption', -v_reward.price, v_reward.partner_id, null, v_key,
                             'customer', v_customer.id, null, null, v_now);
  update loyalty.rewards w set claimed = w.claimed + 1 where w.id = v_reward.id;
  insert into loyalty.vouchers (code, reward_id, customer_id, partner_id, points, status, entry_id, created_at)
  values (req->>'code', v_reward.id, v_customer.id, v_reward.partner_id, v_reward.price, 'issued', v_entry.id, v_now)
  on conflict (code) do nothing
  returning * into v_voucher;
  if not found then
    -- A concurrent claim took the code after the check above: nothing of this one stays.
    perform loyalty._reject('code_taken');
  end if;
  return loyalty._voucher_view(v_voucher, false);
end
$$;

-- Restated from 20261207100000_loyalty_campaigns.
-- req: SetBirthday (the date checked by the caller); Birthday.
create or replace function loyalty.set_birthday(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_customer bigint := loyalty._customer_id(req->'customer');
  v_on_record loyalty.birthdays;
begin
  if v_customer is null then
    perform loyalty._reject('unknown_customer');
  end if;
  -- Found by Telegram id or code, the row must still have it once locked: an
  -- erasure that committed meanwhile makes the old Telegram id unknown.
  perform 1 from loyalty.customers c
   where c.id = v_customer
     and (req#>>'{customer,by}' <> 'telegram' or c.telegram_id = (req#>>'{customer,value}')::bigint)
     and (req#>>'{customer,by}' <> 'code' or c.code = req#>>'{customer,value}')
  for update;
  if not found then
    perform loyalty._reject('unknown_customer');
  end if;
  select * into v_on_record from loyalty.birthdays b where b.customer_id = v_customer;
  if found then
    perform loyalty._reject('birthday_already_set',
      jsonb_build_object('birthday', jsonb_build_object('month', v_on_record.month, 'day', v_on_record.day)));
  end if;
  insert into loyalty.birthdays (customer_id, month, day, created_at)
  values (v_customer, (req#>>'{birthday,month}')::smallint, (req#>>'{birthday,day}')::smallint,
          (req->>'now')::bigint);
  return req->'birthday';
end
$$;

-- Restated from 20261206090000_loyalty_partner_calls.
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

do $$
declare
  f text;
begin
  foreach f in array array['claim_reward', 'set_birthday', 'open_redemption'] loop
    execute format('revoke all on function loyalty.%I(jsonb) from public, anon, authenticated, service_role', f);
    execute format('grant execute on function loyalty.%I(jsonb) to service_role', f);
  end loop;
end
$$;
