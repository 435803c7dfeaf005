-- loyalty-rs storage: a customer's pending redemption requests, for the Mini
-- App (after 20261212090500_loyalty_till_redemption).
--
-- customer_redemptions answers the requests waiting for the customer's
-- answer: pending and not past their time (now <= expires_at), newest first
-- (created_at, then id), at most 10 (storage::MAX_CUSTOMER_REDEMPTIONS), each
-- {"id", "partner", "partner_name", "points", "purchase", "created_at",
-- "expires_at"} (PendingRedemption). A blocked customer (an erased one too)
-- has none listed; an unknown customer is unknown_customer. Nothing changes:
-- a pending request past its time stays pending until answered or swept.
--
-- One statement reads the customer's pending requests through a new partial
-- index, redemption_requests_pending_customer_idx (customer_id, created_at)
-- where status = 'pending'. The model store (loyalty_core::stores::memory)
-- and the SQLite statements (CUSTOMER_REDEMPTIONS) are the other homes of
-- the rule. Safe to run again.

create index if not exists redemption_requests_pending_customer_idx
  on loyalty.redemption_requests (customer_id, created_at) where status = 'pending';

-- req: CustomerRedemptions ({"customer", "now"}); [PendingRedemption], newest first.
create or replace function loyalty.customer_redemptions(req jsonb) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_max constant bigint := 10; -- storage::MAX_CUSTOMER_REDEMPTIONS
  v_customer bigint := loyalty._customer_id(req->'customer');
  v_now bigint := (req->>'now')::bigint;
begin
  if v_customer is null then
    perform loyalty._reject('unknown_customer');
  end if;
  return coalesce((
    select jsonb_agg(jsonb_build_object('id', r.id, 'partner', r.partner_id, 'partner_name', p.name,
                                        'points', r.points, 'purchase', r.purchase, 'created_at', r.created_at,
                                        'expires_at', r.expires_at) order by r.created_at desc, r.id desc)
      from (select r.* from loyalty.redemption_requests r
             where r.customer_id = v_customer
               and r.status = 'pending'
               and r.expires_at >= v_now
               and not (select c.blocked from loyalty.customers c where c.id = v_customer)
             order by r.created_at desc, r.id desc
             limit v_max) r
      join loyalty.partners p on p.id = r.partner_id), '[]'::jsonb);
end
$$;

insert into loyalty.claimable_functions (name) values ('customer_redemptions') on conflict do nothing;

revoke all on function loyalty.customer_redemptions(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.customer_redemptions(jsonb) to service_role;
