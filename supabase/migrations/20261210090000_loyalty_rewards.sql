-- loyalty-rs storage schema: the rewards catalogue and its vouchers.
--
-- A partner publishes a reward (loyalty.rewards: the offer as published, with
-- the columns the calls decide on); under the rules' rewards.moderation it
-- waits for an admin or is shown at once. A customer's claim pays the price
-- (a redemption entry at the reward's partner) and issues a one-time voucher
-- (loyalty.vouchers) that the partner marks used; a customer cancels an
-- unused voucher for a refund (a reversal of the payment) and the unit of
-- stock comes back. The model store (loyalty_core::stores::memory) and the
-- SQLite statements (PUBLISH_REWARD, DECIDE_REWARD, REWARDS, CLAIM_REWARD,
-- USE_VOUCHER, CANCEL_VOUCHER, VOUCHERS) are the other homes of these rules.
--
-- Locks are taken in one order — the reward, then the voucher, then the
-- customer (loyalty._append) — so claims and cancellations never deadlock.
--
-- From here on loyalty.call_claimed finds the use cases it may run in
-- loyalty.claimable_functions, so a later migration adds a row instead of
-- restating the function. Safe to run again.

create table if not exists loyalty.rewards (
  id bigint generated always as identity primary key,
  partner_id bigint not null references loyalty.partners (id),
  offer jsonb not null,
  category text,
  price bigint not null,
  stock integer,
  claimed integer not null default 0,
  available_from bigint,
  available_until bigint,
  status text not null,
  idempotency_key text not null unique,
  created_at bigint not null,
  constraint rewards_offer_check check (jsonb_typeof(offer) = 'object'),
  constraint rewards_price_check check (price between 1 and 1000000000),
  constraint rewards_stock_check check (stock between 0 and 1000000),
  constraint rewards_claimed_check check (claimed >= 0 and (stock is null or claimed <= stock)),
  constraint rewards_status_check check (status in ('pending', 'active', 'rejected', 'withdrawn'))
);

create index if not exists rewards_partner_idx on loyalty.rewards (partner_id, id);
create index if not exists rewards_category_idx on loyalty.rewards (category, id) where status = 'active';

create table if not exists loyalty.vouchers (
  id bigint generated always as identity primary key,
  code text not null unique,
  reward_id bigint not null references loyalty.rewards (id),
  customer_id bigint not null references loyalty.customers (id),
  partner_id bigint not null references loyalty.partners (id),
  points bigint not null,
  status text not null,
  entry_id bigint not null unique references loyalty.entries (id),
  refund_id bigint references loyalty.entries (id),
  created_at bigint not null,
  closed_at bigint,
  constraint vouchers_points_check check (points > 0),
  constraint vouchers_status_check check (status in ('issued', 'used', 'cancelled'))
);

create index if not exists vouchers_customer_idx on loyalty.vouchers (customer_id, id);

alter table loyalty.rewards enable row level security;
alter table loyalty.vouchers enable row level security;

create or replace function loyalty._reward_json(w loyalty.rewards) returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object('id', w.id, 'partner', w.partner_id,
                            'partner_name', (select p.name from loyalty.partners p where p.id = w.partner_id),
                            'offer', w.offer, 'status', w.status, 'claimed', w.claimed, 'created_at', w.created_at);
$$;

create or replace function loyalty._voucher_view(v loyalty.vouchers, p_replayed boolean) returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'voucher', jsonb_build_object('id', v.id, 'code', v.code, 'reward', v.reward_id, 'customer', v.customer_id,
                                  'partner', v.partner_id, 'points', v.points, 'status', v.status,
                                  'entry', v.entry_id, 'refund', v.refund_id, 'created_at', v.created_at,
                                  'closed_at', v.closed_at),
    'reward', (select loyalty._reward_json(w) from loyalty.rewards w where w.id = v.reward_id),
    'customer', loyalty._customer_now(v.customer_id),
    'partner', loyalty._partner_now(v.partner_id),
    'replayed', p_replayed);
$$;

-- Refuses an issued voucher's use or cancellation unless it is issued and its
-- payment not reversed (a reversed payment closes it as cancelled).
create or replace function loyalty._voucher_open(v loyalty.vouchers) returns void
language plpgsql
set search_path = ''
as $$
begin
  if v.status <> 'issued' then
    perform loyalty._reject('voucher_closed', jsonb_build_object('status', v.status));
  end if;
  if exists (select 1 from loyalty.entries r where r.reverses = v.entry_id) then
    perform loyalty._reject('voucher_closed', jsonb_build_object('status', 'cancelled'));
  end if;
end
$$;

-- The partner a PartnerRef names, which must exist and be approved.
create or replace function loyalty._approved_partner(p_ref jsonb) returns loyalty.partners
language plpgsql
stable
set search_path = ''
as $$
declare
  v_partner loyalty.partners;
begin
  select * into v_partner from loyalty.partners p where p.id = loyalty._partner_id(p_ref);
  if not found then
    perform loyalty._reject('unknown_partner');
  end if;
  if v_partner.status <> 'approved' then
    perform loyalty._reject('partner_not_approved', jsonb_build_object('status', v_partner.status));
  end if;
  return v_partner;
end
$$;

-- req: PublishReward (the offer checked by the caller); Reward.
create or replace function loyalty.publish_reward(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key text := req->>'idempotency_key';
  v_offer jsonb := req->'offer';
  v_partner loyalty.partners;
  v_reward loyalty.rewards;
  v_policy text := coalesce((select r.doc#>>'{rewards,moderation}' from loyalty.rules r
                              order by r.version desc limit 1), 'approval');
begin
  perform loyalty._check_key(v_key);
  perform loyalty._lock_key(4, v_key);
  select * into v_reward from loyalty.rewards w where w.idempotency_key = v_key;
  if found then
    if v_reward.partner_id is distinct from loyalty._partner_id(req->'partner') or v_reward.offer <> v_offer then
      perform loyalty._reject('idempotency_conflict');
    end if;
    return loyalty._reward_json(v_reward);
  end if;
  v_partner := loyalty._approved_partner(req->'partner');
  insert into loyalty.rewards (partner_id, offer, category, price, stock, available_from, available_until, status,
                               idempotency_key, created_at)
  values (v_partner.id, v_offer, v_offer->>'category', (v_offer->>'price')::bigint, (v_offer->>'stock')::integer,
          (v_offer->>'available_from')::bigint, (v_offer->>'available_until')::bigint,
          case when v_policy = 'open' then 'active' else 'pending' end, v_key, (req->>'now')::bigint)
  returning * into v_reward;
  return loyalty._reward_json(v_reward);
end
$$;

-- req: DecideReward; RewardDecided.
create or replace function loyalty.decide_reward(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_partner bigint := loyalty._campaign_partner(req->'by');
  v_decision text := req->>'decision';
  v_reward loyalty.rewards;
begin
  select * into v_reward from loyalty.rewards w
   where w.id = (req->>'reward')::bigint and (v_partner is null or w.partner_id = v_partner)
  for update;
  if not found then
    perform loyalty._reject('unknown_reward');
  end if;
  if not (case v_decision when 'withdraw' then v_reward.status in ('pending', 'active')
                          else v_reward.status = 'pending' and v_partner is null end) then
    perform loyalty._reject('reward_closed', jsonb_build_object('status', v_reward.status));
  end if;
  update loyalty.rewards w
     set status = case v_decision when 'approve' then 'active' when 'reject' then 'rejected' else 'withdrawn' end
   where w.id = v_reward.id
  returning * into v_reward;
  return jsonb_build_object('reward', loyalty._reward_json(v_reward),
                            'partner', loyalty._partner_now(v_reward.partner_id));
end
$$;

-- req: ListRewards; the rewards by id after the cursor (claimable_at: those a
-- customer may claim then, Reward::claimable, their partner approved).
create or replace function loyalty.rewards(req jsonb) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_limit bigint := (req->>'limit')::bigint;
  v_partner bigint;
  v_at bigint := (req->>'claimable_at')::bigint;
begin
  if v_limit is null or v_limit not between 1 and 50 then
    perform loyalty._reject('invalid_amount');
  end if;
  if jsonb_typeof(req->'partner') = 'object' then
    v_partner := loyalty._partner_id(req->'partner');
    if v_partner is null then
      perform loyalty._reject('unknown_partner');
    end if;
  end if;
  return coalesce((
    select jsonb_agg(loyalty._reward_json(w) order by w.id)
      from (select w.* from loyalty.rewards w join loyalty.partners p on p.id = w.partner_id
             where w.id > coalesce((req->>'after')::bigint, 0)
               and (v_partner is null or w.partner_id = v_partner)
               and (req->>'category' is null or w.category = req->>'category')
               and (req->>'status' is null or w.status = req->>'status')
               and (v_at is null or (w.status = 'active' and p.status = 'approved'
                                     and coalesce(w.available_from <= v_at, true)
                                     and coalesce(v_at < w.available_until, true)
                                     and (w.stock is null or w.claimed < w.stock)))
             order by w.id limit v_limit) w), '[]'::jsonb);
end
$$;

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
  v_existing loyalty.entries;
  v_voucher loyalty.vouchers;
  v_reward loyalty.rewards;
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
  select * into v_customer from loyalty.customers c where c.id = loyalty._customer_id(req->'customer');
  if not found then
    perform loyalty._reject('unknown_customer');
  end if;
  if v_customer.blocked then
    perform loyalty._reject('customer_blocked');
  end if;
  select * into v_reward from loyalty.rewards w where w.id = (req->>'reward')::bigint for update;
  if not found then
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
  v_partner := loyalty._approved_partner(req->'partner');
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

-- req: CancelVoucher; VoucherView.
create or replace function loyalty.cancel_voucher(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_customer bigint := loyalty._customer_id(req->'customer');
  v_voucher loyalty.vouchers;
  v_refund loyalty.entries;
begin
  if v_customer is null then
    perform loyalty._reject('unknown_customer');
  end if;
  select * into v_voucher from loyalty.vouchers v
   where v.id = (req->>'voucher')::bigint and v.customer_id = v_customer;
  if not found then
    perform loyalty._reject('unknown_voucher');
  end if;
  -- The lock order: the reward, the voucher, the customer.
  perform 1 from loyalty.rewards w where w.id = v_voucher.reward_id for update;
  select * into v_voucher from loyalty.vouchers v where v.id = v_voucher.id for update;
  perform 1 from loyalty.customers c where c.id = v_customer for update;
  if v_voucher.status = 'cancelled' then
    return loyalty._voucher_view(v_voucher, true);
  end if;
  perform loyalty._voucher_open(v_voucher);
  v_refund := loyalty._append(v_customer, 'reversal', v_voucher.points, v_voucher.partner_id, null,
                              'redemption:voucher:' || v_voucher.id, 'customer', v_customer, v_voucher.entry_id,
                              null, (req->>'now')::bigint);
  update loyalty.rewards w set claimed = w.claimed - 1 where w.id = v_voucher.reward_id;
  update loyalty.vouchers v set status = 'cancelled', refund_id = v_refund.id, closed_at = (req->>'now')::bigint
   where v.id = v_voucher.id
  returning * into v_voucher;
  return loyalty._voucher_view(v_voucher, false);
end
$$;

-- req: ListVouchers; the customer's VoucherViews, newest first.
create or replace function loyalty.vouchers(req jsonb) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_limit bigint := (req->>'limit')::bigint;
  v_customer bigint := loyalty._customer_id(req->'customer');
begin
  if v_limit is null or v_limit not between 1 and 50 then
    perform loyalty._reject('invalid_amount');
  end if;
  if v_customer is null then
    perform loyalty._reject('unknown_customer');
  end if;
  return coalesce((
    select jsonb_agg(loyalty._voucher_view(v, false) order by v.id desc)
      from (select * from loyalty.vouchers v
             where v.customer_id = v_customer and (req->>'status' is null or v.status = req->>'status')
             order by v.id desc limit v_limit) v), '[]'::jsonb);
end
$$;

-- The use cases loyalty.call_claimed may run with an update's claim.
create table if not exists loyalty.claimable_functions (
  name text primary key
);

alter table loyalty.claimable_functions enable row level security;

insert into loyalty.claimable_functions (name)
select unnest(array[
  'register_customer', 'customer_summary', 'customer_view', 'customer_entries', 'set_language', 'set_blocked',
  'credit_purchase', 'open_redemption', 'confirm_redemption', 'decline_redemption', 'expire_redemptions',
  'reverse_entry', 'adjust_balance', 'apply_partner', 'decide_partner', 'partner', 'list_partners',
  'set_partner_api_key', 'partner_by_api_key', 'look_up_customer', 'partner_stats', 'program_stats',
  'claim_update', 'release_update', 'prune_update_claims', 'consume_quota', 'create_broadcast',
  'claim_broadcast_batch', 'record_broadcast', 'pending_broadcasts', 'program_rules', 'set_program_rules',
  'expire_points', 'remind_expiry', 'refresh_tiers', 'create_campaign', 'decide_campaign', 'campaigns',
  'set_birthday', 'publish_reward', 'decide_reward', 'rewards', 'claim_reward', 'use_voucher', 'cancel_voucher',
  'vouchers'
])
on conflict do nothing;

create or replace function loyalty.call_claimed(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_function text := req->>'function';
  v_result jsonb;
begin
  if v_function is null or not exists (select 1 from loyalty.claimable_functions f where f.name = v_function) then
    raise exception 'loyalty: unknown use case %', coalesce(v_function, 'null');
  end if;
  insert into loyalty.bot_updates (bot, update_id, claimed_at)
  values ((req#>>'{claim,bot}')::bigint, (req#>>'{claim,update_id}')::bigint, (req#>>'{claim,now}')::bigint)
  on conflict do nothing;
  if not found then
    return '{"duplicate_update": true}'::jsonb;
  end if;
  perform loyalty._keep_update_body(req->'claim');
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
  foreach f in array array['publish_reward', 'decide_reward', 'rewards', 'claim_reward', 'use_voucher',
                           'cancel_voucher', 'vouchers', 'call_claimed'] loop
    execute format('revoke all on function loyalty.%I(jsonb) from public, anon, authenticated, service_role', f);
    execute format('grant execute on function loyalty.%I(jsonb) to service_role', f);
  end loop;
  foreach f in array array['_reward_json(loyalty.rewards)', '_voucher_view(loyalty.vouchers, boolean)',
                           '_voucher_open(loyalty.vouchers)', '_approved_partner(jsonb)'] loop
    execute format('revoke all on function loyalty.%s from public, anon, authenticated, service_role', f);
  end loop;
end
$$;
