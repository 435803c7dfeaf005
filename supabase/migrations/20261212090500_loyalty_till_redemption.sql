-- loyalty-rs storage: a partner's redemption requests seen at its till (after
-- 20261212090400_loyalty_daily_figures).
--
-- redemption (ViewRedemption) takes a till's reference too
-- ({"by": "till", "value": t}, loyalty._till_partner of
-- 20261212090000_loyalty_staff): the partner's owner at the till and each of
-- its active cashiers see every request of the partner's, whoever opened it;
-- a revoked cashier, or anyone who is neither, sees none (null), as for a
-- partner that does not exist. An owner's reference ("id", "telegram") is
-- answered as before. Otherwise loyalty.redemption of
-- 20261207100000_loyalty_campaigns, restated. The model store
-- (loyalty_core::stores::memory) and the SQLite statements (REDEMPTION) are
-- the other homes of the rule. Safe to run again.

-- req: ViewRedemption; the RedemptionView of the partner's request, or null.
create or replace function loyalty.redemption(req jsonb) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((select loyalty._redemption_view(r, false) from loyalty.redemption_requests r
                    where r.id = (req->>'id')::bigint
                      and r.partner_id = (loyalty._till_partner(req->'partner')).partner), 'null'::jsonb);
$$;

revoke all on function loyalty.redemption(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.redemption(jsonb) to service_role;
