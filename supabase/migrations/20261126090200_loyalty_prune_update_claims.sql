-- loyalty-rs storage schema, migration 3: forgetting old update claims.
--
-- Telegram stops redelivering an update within a day, so a claim in
-- processed_updates older than that guards against nothing; the maintenance
-- pass deletes those older than a week (Storage::prune_update_claims). Safe to
-- run again.

create index if not exists processed_updates_claimed_at_idx on loyalty.processed_updates (claimed_at);

create or replace function loyalty.prune_update_claims(req jsonb) returns jsonb
language sql
security definer
set search_path = ''
as $$
  with pruned as (
    delete from loyalty.processed_updates u where u.claimed_at < (req->>'before')::bigint returning 1
  )
  select to_jsonb(count(*)) from pruned;
$$;

revoke all on function loyalty.prune_update_claims(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.prune_update_claims(jsonb) to service_role;
comment on function loyalty.prune_update_claims(jsonb) is
  'loyalty-rs Storage::prune_update_claims: jsonb request in, jsonb response out; atomic; see docs/SUPABASE.md';
