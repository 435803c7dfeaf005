-- loyalty-rs: cashier accounts' fixes after 20261212090000_loyalty_staff (issue #12 part 4).
--
-- 1. The staff list puts the active cashiers first (then invitations and revoked
--    cashiers, each newest first), so old invitations never push one off its 100
--    rows.
-- 2. An active cashier cannot apply to be a partner.
--
-- At the till the owner's account comes first, so a cashier who became a
-- partner's owner would silently stop working for their employer while its
-- /staff still listed them. apply_partner now refuses a new application from
-- an active cashier with `already_staff` (revoked first, they may apply); a
-- rejected partner applying again is not a cashier (join_staff refuses owners).
-- Both apply_partner and join_staff take the user's advisory lock (namespace 7),
-- so an application and a join of one user at once cannot both succeed.
--
-- apply_partner of 20261126090100_loyalty_functions, with the lock and the check.
create or replace function loyalty.apply_partner(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_tg bigint := (req->>'telegram_id')::bigint;
  v_partner loyalty.partners;
begin
  perform loyalty._lock_key(7, v_tg::text);
  if not exists (select 1 from loyalty.partners p where p.telegram_id = v_tg)
     and exists (select 1 from loyalty.staff s
                  where s.telegram_id = v_tg and s.joined_at is not null and s.revoked_at is null) then
    perform loyalty._reject('already_staff');
  end if;
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

-- req: {who: PartnerRef}; the partner's [Staff] (owner's references only,
-- any status; unknown_partner otherwise): active cashiers first, then the
-- rest, each newest first, at most 100. (staff of 20261212090000_loyalty_staff,
-- reordered.)
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
    select jsonb_agg(loyalty._staff_json(s)
                     order by (s.joined_at is not null and s.revoked_at is null) desc, s.id desc)
      from (select * from loyalty.staff s
             where s.partner_id = v_partner
             order by (s.joined_at is not null and s.revoked_at is null) desc, s.id desc limit 100) s), '[]'::jsonb);
end
$$;
