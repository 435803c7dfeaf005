-- loyalty-rs storage schema: the maintenance pass also drops quota windows
-- older than its horizon — the POS keys' per-minute counters (the API's rate
-- limit) would otherwise pile up. Restates loyalty.prune_update_claims (of
-- 20261209090000_loyalty_outbox) with that one statement more. The model store
-- and the SQLite statements (PRUNE_UPDATE_CLAIMS) are the other homes of the
-- rule. Safe to run again.

create index if not exists quotas_day_idx on loyalty.quotas (day);

create or replace function loyalty.prune_update_claims(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_before bigint := (req->>'before')::bigint;
  v_count bigint;
begin
  delete from loyalty.bot_updates u where u.claimed_at < v_before;
  get diagnostics v_count = row_count;
  delete from loyalty.update_bodies b where b.claimed_at < v_before;
  delete from loyalty.outbox o where o.state <> 'pending' and o.settled_at < v_before;
  delete from loyalty.quotas q where q.day < v_before;
  return to_jsonb(v_count);
end
$$;

revoke all on function loyalty.prune_update_claims(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.prune_update_claims(jsonb) to service_role;
