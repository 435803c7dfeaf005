-- loyalty-rs storage schema, migration 4: a use case and the claim of the Telegram update
-- that caused it, in one call (Storage::fold_claim), so an update costs one round
-- trip to the database instead of two.
--
-- req: {"claim": {"bot", "update_id", "now"}, "function": <use case>, "req": <its request>}.
-- Claims (bot, update_id); if it was claimed before, returns {"duplicate_update": true}
-- and does nothing else. Otherwise runs loyalty.<function>(req->'req') and returns its
-- result; a rejection (SQLSTATE LY001) is returned as {"rejected": <Rejection>} so
-- that the claim stays (the use case's own changes are rolled back with its
-- sub-transaction). Safe to run again.

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
  insert into loyalty.processed_updates (bot, update_id, claimed_at)
  values (req#>>'{claim,bot}', (req#>>'{claim,update_id}')::bigint, (req#>>'{claim,now}')::bigint)
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

revoke all on function loyalty.call_claimed(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.call_claimed(jsonb) to service_role;
comment on function loyalty.call_claimed(jsonb) is
  'loyalty-rs Storage::fold_claim: claims a Telegram update and runs one use case, atomically; see docs/SUPABASE.md';
