-- loyalty-rs storage schema: a customer's own data, erasure under a tombstone,
-- and the audit log read page by page.
--
-- personal_data is everything the program holds about one customer (their
-- `/mydata`). erase_customer keeps the customer's row as a tombstone under its
-- internal id, so every entry, balance, partner report and export still adds
-- up: the Telegram id becomes the negative of the internal id (no Telegram
-- user has one), the name and username are emptied and the row is blocked;
-- the birthday, the imported date of birth and the messages still queued
-- for their chat go (those sent leave with the outbox's pruning); a pending redemption request is declined. Erasing a
-- tombstone again changes nothing. The audit log records the erasure with the
-- admin who made it, or none (admin null) when the customer asked. The model
-- store (loyalty_core::stores::memory) and the SQLite statements are the other
-- homes of these rules.
--
-- Lock order as everywhere (key → partner → request → customer): an erasure
-- locks the customer's pending redemption requests, then the customer's row.
-- Safe to run again.

-- The audit log accepts erasures, and a null admin for a customer's own request.
alter table loyalty.audit_log alter column admin drop not null;

alter table loyalty.audit_log
  drop constraint if exists audit_log_action_check,
  drop constraint if exists audit_log_admin_check;

alter table loyalty.audit_log
  add constraint audit_log_action_check check (action in ('adjusted', 'blocked', 'partner_decided', 'erased')),
  add constraint audit_log_admin_check check (admin is not null or action = 'erased');

-- The JSON of Voucher (also the `voucher` of a VoucherView).
create or replace function loyalty._voucher_json(v loyalty.vouchers) returns jsonb
language sql
immutable
set search_path = ''
as $$
  select jsonb_build_object('id', v.id, 'code', v.code, 'reward', v.reward_id, 'customer', v.customer_id,
                            'partner', v.partner_id, 'points', v.points, 'status', v.status,
                            'entry', v.entry_id, 'refund', v.refund_id, 'created_at', v.created_at,
                            'closed_at', v.closed_at);
$$;

-- Restated (from 20261210090000_loyalty_rewards) to build the voucher with loyalty._voucher_json.
create or replace function loyalty._voucher_view(v loyalty.vouchers, p_replayed boolean) returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'voucher', loyalty._voucher_json(v),
    'reward', (select loyalty._reward_json(w) from loyalty.rewards w where w.id = v.reward_id),
    'customer', loyalty._customer_now(v.customer_id),
    'partner', loyalty._partner_now(v.partner_id),
    'replayed', p_replayed);
$$;

-- The JSON of AuditRecord, its action built from the row's columns and details
-- (as adjust_balance, set_blocked and decide_partner write them).
create or replace function loyalty._audit_json(a loyalty.audit_log) returns jsonb
language sql
immutable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', a.id,
    'admin', a.admin,
    'action', case a.action
      when 'adjusted' then jsonb_build_object('action', 'adjusted', 'customer', a.customer_id, 'entry', a.entry_id,
                                              'amount', a.details->'amount', 'reason', a.details->'reason')
      when 'blocked' then jsonb_build_object('action', 'blocked', 'customer', a.customer_id,
                                             'blocked', a.details->'blocked')
      when 'partner_decided' then jsonb_build_object('action', 'partner_decided', 'partner', a.partner_id,
                                                     'decision', a.details->'decision',
                                                     'status', a.details->'status')
      when 'erased' then jsonb_build_object('action', 'erased', 'customer', a.customer_id)
    end,
    'at', a.at);
$$;

-- req: {who: CustomerRef}; PersonalData, or null for no such customer.
create or replace function loyalty.personal_data(req jsonb) returns jsonb
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
    'birthday', (select jsonb_build_object('month', b.month, 'day', b.day)
                   from loyalty.birthdays b where b.customer_id = v_customer.id),
    'entries', coalesce((select jsonb_agg(loyalty._entry_json(e) order by e.id)
                           from loyalty.entries e where e.customer_id = v_customer.id), '[]'::jsonb),
    'vouchers', coalesce((select jsonb_agg(loyalty._voucher_json(v) order by v.id)
                            from loyalty.vouchers v where v.customer_id = v_customer.id), '[]'::jsonb));
end
$$;

-- req: EraseCustomer; Erased. unknown_customer for no such customer (a
-- tombstone by its old Telegram id included).
create or replace function loyalty.erase_customer(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_who jsonb := req->'who';
  v_id bigint := loyalty._customer_id(req->'who');
  v_customer loyalty.customers;
  v_person bigint;
begin
  if v_id is null then
    perform loyalty._reject('unknown_customer');
  end if;
  -- The lock order: the requests, then the customer.
  perform 1 from loyalty.redemption_requests r
   where r.customer_id = v_id and r.status = 'pending'
   order by r.id
  for update;
  -- Found by Telegram id, the row must still have it once locked: an erasure
  -- that committed meanwhile makes the old Telegram id unknown.
  select * into v_customer from loyalty.customers c
   where c.id = v_id and (v_who->>'by' <> 'telegram' or c.telegram_id = (v_who->>'value')::bigint)
  for update;
  if not found then
    perform loyalty._reject('unknown_customer');
  end if;
  if v_customer.telegram_id < 0 then
    return jsonb_build_object('customer', loyalty._customer_json(v_customer), 'replayed', true);
  end if;
  v_person := v_customer.telegram_id;
  update loyalty.customers c
     set telegram_id = -c.id, first_name = '', username = null, blocked = true
   where c.id = v_id
  returning * into v_customer;
  delete from loyalty.birthdays b where b.customer_id = v_id;
  update loyalty.imports i set telegram_id = -v_id, birthday = null where i.customer_id = v_id;
  -- Declined as decline_redemption would (no entry).
  update loyalty.redemption_requests r set status = 'declined'
   where r.customer_id = v_id and r.status = 'pending';
  delete from loyalty.outbox o where o.chat = v_person and o.state = 'pending';
  insert into loyalty.audit_log (admin, action, customer_id, at)
  values ((req->>'admin')::bigint, 'erased', v_id, (req->>'now')::bigint);
  return jsonb_build_object('customer', loyalty._customer_json(v_customer), 'replayed', false);
end
$$;

-- req: AuditPage; the AuditRecords with id below `before` (if given), newest
-- first, at most `limit` (1..=100, else invalid_amount).
create or replace function loyalty.audit_log(req jsonb) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_limit bigint := (req->>'limit')::bigint;
  v_before bigint := (req->>'before')::bigint;
begin
  if v_limit is null or v_limit not between 1 and 100 then
    perform loyalty._reject('invalid_amount');
  end if;
  return coalesce((
    select jsonb_agg(loyalty._audit_json(a) order by a.id desc)
      from (select * from loyalty.audit_log a
             where v_before is null or a.id < v_before
             order by a.id desc limit v_limit) a), '[]'::jsonb);
end
$$;

insert into loyalty.claimable_functions (name)
values ('personal_data'), ('erase_customer'), ('audit_log')
on conflict do nothing;

do $$
declare
  f text;
begin
  foreach f in array array['personal_data', 'erase_customer', 'audit_log'] loop
    execute format('revoke all on function loyalty.%I(jsonb) from public, anon, authenticated, service_role', f);
    execute format('grant execute on function loyalty.%I(jsonb) to service_role', f);
  end loop;
  foreach f in array array['_voucher_json(loyalty.vouchers)', '_voucher_view(loyalty.vouchers, boolean)',
                           '_audit_json(loyalty.audit_log)'] loop
    execute format('revoke all on function loyalty.%s from public, anon, authenticated, service_role', f);
  end loop;
end
$$;
