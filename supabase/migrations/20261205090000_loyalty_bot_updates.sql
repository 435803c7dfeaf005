-- loyalty-rs storage schema, migration 5: update claims per bot id.
--
-- Claims were kept per bot kind ('client', 'partner', …), so two deployments
-- sharing one database (production and staging, each with its own bots) took
-- each other's updates for duplicates. They are now kept per bot id — the
-- number before the colon in the bot's token — in loyalty.bot_updates; the
-- functions that claim, release and prune use it, and the old table goes.
-- The claims of updates handled before this migration are not carried over
-- (the bots' ids are not in the database): apply it while no update is being
-- processed. Safe to run again.

create table if not exists loyalty.bot_updates (
  bot bigint not null,
  update_id bigint not null,
  claimed_at bigint not null,
  primary key (bot, update_id)
);

create index if not exists bot_updates_claimed_at_idx on loyalty.bot_updates (claimed_at);

alter table loyalty.bot_updates enable row level security;
revoke all on loyalty.bot_updates from public, anon, authenticated, service_role;

create or replace function loyalty.claim_update(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into loyalty.bot_updates (bot, update_id, claimed_at)
  values ((req->>'bot')::bigint, (req->>'update_id')::bigint, (req->>'now')::bigint)
  on conflict do nothing;
  return to_jsonb(found);
end
$$;

create or replace function loyalty.release_update(req jsonb) returns jsonb
language sql
security definer
set search_path = ''
as $$
  delete from loyalty.bot_updates u where u.bot = (req->>'bot')::bigint and u.update_id = (req->>'update_id')::bigint;
  select 'null'::jsonb;
$$;

create or replace function loyalty.prune_update_claims(req jsonb) returns jsonb
language sql
security definer
set search_path = ''
as $$
  with gone as (
    delete from loyalty.bot_updates u where u.claimed_at < (req->>'before')::bigint returning 1
  )
  select to_jsonb(count(*)) from gone;
$$;

create or replace function loyalty.call_claimed(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_function text := req->>'function';
  v_result jsonb;
begin
  if v_function is null or v_function not in (
    'register_customer', 'customer_summary', 'customer_entries', 'set_language', 'set_blocked',
    'credit_purchase', 'open_redemption', 'confirm_redemption', 'decline_redemption', 'expire_redemptions',
    'reverse_entry', 'adjust_balance', 'apply_partner', 'decide_partner', 'partner', 'list_partners',
    'set_partner_api_key', 'partner_by_api_key', 'partner_stats', 'program_stats', 'claim_update',
    'release_update', 'prune_update_claims', 'consume_quota', 'create_broadcast', 'claim_broadcast_batch',
    'record_broadcast', 'pending_broadcasts'
  ) then
    raise exception 'loyalty: unknown use case %', coalesce(v_function, 'null');
  end if;
  insert into loyalty.bot_updates (bot, update_id, claimed_at)
  values ((req#>>'{claim,bot}')::bigint, (req#>>'{claim,update_id}')::bigint, (req#>>'{claim,now}')::bigint)
  on conflict do nothing;
  if not found then
    return '{"duplicate_update": true}'::jsonb;
  end if;
  begin
    execute format('select loyalty.%I($1)', v_function) into v_result using req->'req';
  exception when sqlstate 'LY001' then
    return jsonb_build_object('rejected', sqlerrm::jsonb);
  end;
  return v_result;
end
$$;

drop table if exists loyalty.processed_updates;

revoke all on function loyalty.claim_update(jsonb) from public, anon, authenticated, service_role;
revoke all on function loyalty.release_update(jsonb) from public, anon, authenticated, service_role;
revoke all on function loyalty.prune_update_claims(jsonb) from public, anon, authenticated, service_role;
revoke all on function loyalty.call_claimed(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.claim_update(jsonb) to service_role;
grant execute on function loyalty.release_update(jsonb) to service_role;
grant execute on function loyalty.prune_update_claims(jsonb) to service_role;
grant execute on function loyalty.call_claimed(jsonb) to service_role;
