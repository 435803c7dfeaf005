-- loyalty-rs storage: the daily credit limit from a running total per partner (after
-- 20261214090000_loyalty_finish_updates).
--
-- A partner's credits may not exceed its daily_credit_limit: credit_purchase sums the partner's
-- accruals since the day's start that were not reversed. That sum read every entry of the day
-- (of every partner: the plan PostgreSQL prefers follows entries_created_at_idx), so a credit's
-- cost grew with the day's volume. Now credit_purchase keeps, in loyalty.partner_days, the
-- partner's total of the day with the day's start and the partner's newest entry after the
-- credit ("through"). The next credit of the same day uses that total when the partner's newest
-- entry is still "through" (nothing but its credits came since: no reversal, no redemption);
-- otherwise it sums the entries as before, once, and records the total again. The rule's answer
-- is the sum's, always.
--
-- Entries are appended under the partner's lock: credit_purchase takes it for update (as before)
-- and reverse_entry now for share, so a credit sees every reversal of the partner that went
-- before it, and one after it has a newer id. Redemptions need no lock: they change no total.
--
-- The model store (loyalty_core::stores::memory, the sum) and the SQLite statements (CREDIT_PURCHASE,
-- loyalty_partner_days) are the other homes of the rule; the conformance check credit_daily_limit
-- holds them to it. Safe to run again.

create table if not exists loyalty.partner_days (
  partner_id bigint primary key references loyalty.partners (id),
  day_start bigint not null,
  credited numeric not null,
  through bigint not null
);

alter table loyalty.partner_days enable row level security;
revoke all on loyalty.partner_days from public, anon, authenticated, service_role;

-- Restated from 20261212090000_loyalty_staff: the day's total from loyalty.partner_days.
-- req: CreditPurchase; Credited.
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
  -- The partner's running total of the day, when nothing but its own credits came after it;
  -- else the sum over the day's entries (the rule's definition), once.
  select d.credited into v_used
    from loyalty.partner_days d
   where d.partner_id = v_partner.id
     and d.day_start = v_day_start
     and d.through = (select max(e.id) from loyalty.entries e where e.partner_id = v_partner.id);
  if not found then
    select coalesce(sum(e.amount), 0) into v_used
      from loyalty.entries e
     where e.partner_id = v_partner.id
       and e.created_at >= v_day_start
       and e.kind = 'accrual'
       and not exists (select 1 from loyalty.entries r where r.reverses = e.id);
  end if;
  v_used := least(v_used, 9223372036854775807);
  if least(v_used + v_amount, 9223372036854775807) > v_partner.daily_credit_limit then
    perform loyalty._reject('daily_limit_exceeded',
      jsonb_build_object('remaining', greatest(v_partner.daily_credit_limit - v_used, 0)));
  end if;
  v_entry := loyalty._append(v_customer.id, 'accrual', v_amount, v_partner.id, v_purchase, v_key,
                             'partner', v_partner.id, null, null, (req->>'now')::bigint, v_cashier);
  insert into loyalty.campaign_awards (entry_id, campaign_id, customer_id, points, created_at)
  select v_entry.id, (a->>'campaign')::bigint, v_customer.id, (a->>'points')::bigint, (req->>'now')::bigint
    from jsonb_array_elements(v_awards) a;
  insert into loyalty.partner_days (partner_id, day_start, credited, through)
  values (v_partner.id, v_day_start, v_used + v_amount,
          (select max(e.id) from loyalty.entries e where e.partner_id = v_partner.id))
  on conflict (partner_id) do update
    set day_start = excluded.day_start, credited = excluded.credited, through = excluded.through;
  return jsonb_build_object('entry', loyalty._entry_json(v_entry),
                            'customer', loyalty._customer_now(v_customer.id),
                            'partner', loyalty._partner_json(v_partner),
                            'replayed', false,
                            'tier_before', v_tier_before,
                            'awards', v_awards);
end
$$;

-- Restated from 20261207090000_loyalty_rules_and_lots: the partner locked for share.
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
  -- Shared with the partner's other reversals, exclusive of its credits: a credit sees every
  -- reversal that went before it (the running total of the day relies on it).
  select * into v_partner from loyalty.partners p where p.id = loyalty._partner_id(req->'partner') for share;
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

revoke all on function loyalty.credit_purchase(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.credit_purchase(jsonb) to service_role;
revoke all on function loyalty.reverse_entry(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.reverse_entry(jsonb) to service_role;
