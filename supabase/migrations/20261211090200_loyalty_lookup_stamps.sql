-- loyalty-rs storage schema: a customer's stamps in the partner's lookup.
--
-- look_up_customer (what a partner's cashier calls after scanning a card)
-- also answers `stamps`: the customer's StampProgress at the partner who
-- looks them up, when that partner runs a stamp card (0 and 0 before the
-- first stamp), or null when it runs none — still in the one call. The
-- checks and their order are unchanged. The model store
-- (loyalty_core::stores::memory) and the SQLite statements are the other
-- homes of these rules. Safe to run again.

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
                            'customer', loyalty._customer_now(v_customer),
                            'stamps', coalesce((select loyalty._stamp_progress(s, v_customer)
                                                  from loyalty.stamp_cards s
                                                 where s.partner_id = v_partner.id), 'null'::jsonb));
end
$$;

revoke all on function loyalty.look_up_customer(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.look_up_customer(jsonb) to service_role;
