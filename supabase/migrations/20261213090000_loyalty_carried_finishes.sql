-- loyalty-rs storage: an update's claim finishes earlier updates (after
-- 20261212090600_loyalty_customer_redemptions).
--
-- A claim may carry "finished": [{"bot", "update_id"}, ...], updates the same
-- process processed before, with nothing left to send. loyalty.call_claimed
-- and loyalty.claim_update finish them (drop their kept bodies, as
-- loyalty.enqueue_messages does with its "updates") before anything else, so
-- they are finished whether the claim is taken, found a duplicate, or its use
-- case rejected. A Worker thereby finishes its updates on the next update's
-- one request instead of spending a request after each response
-- (UpdateClaim::finished; Engine::with_carried_finishes); a claim without
-- them costs nothing more than before. Finishing twice,
-- or an update never claimed, changes nothing. At most 100 are taken
-- (storage::MAX_MESSAGE_BATCH); a claim without the key finishes none.
--
-- The model store (loyalty_core::stores::memory) and the SQLite statements
-- (CLAIM and CLAIM_UPDATE, finish_carried!) are the other homes of this rule;
-- the conformance check carried_finishes holds them to it. Safe to run again.

create or replace function loyalty._finish_carried(claim jsonb) returns void
language sql
security definer
set search_path = ''
as $$
  delete from loyalty.update_bodies b
   using (select u.value
            from jsonb_array_elements(case jsonb_typeof(claim->'finished')
                                        when 'array' then claim->'finished' else '[]'::jsonb end)
                 with ordinality u(value, ord)
           where u.ord <= 100) u
   where b.bot = (u.value->>'bot')::bigint and b.update_id = (u.value->>'update_id')::bigint;
$$;

create or replace function loyalty.claim_update(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
begin
  if req ? 'finished' then
    perform loyalty._finish_carried(req);
  end if;
  insert into loyalty.bot_updates (bot, update_id, claimed_at)
  values ((req->>'bot')::bigint, (req->>'update_id')::bigint, (req->>'now')::bigint)
  on conflict do nothing;
  if not found then
    return 'false'::jsonb;
  end if;
  perform loyalty._keep_update_body(req);
  return 'true'::jsonb;
end
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
  if v_function is null or not exists (select 1 from loyalty.claimable_functions f where f.name = v_function) then
    raise exception 'loyalty: unknown use case %', coalesce(v_function, 'null');
  end if;
  if req->'claim' ? 'finished' then
    perform loyalty._finish_carried(req->'claim');
  end if;
  insert into loyalty.bot_updates (bot, update_id, claimed_at)
  values ((req#>>'{claim,bot}')::bigint, (req#>>'{claim,update_id}')::bigint, (req#>>'{claim,now}')::bigint)
  on conflict do nothing;
  if not found then
    return '{"duplicate_update": true}'::jsonb;
  end if;
  perform loyalty._keep_update_body(req->'claim');
  begin
    execute format('select loyalty.%I($1)', v_function) into v_result using req->'req';
  exception when sqlstate 'LY001' then
    return jsonb_build_object('rejected', sqlerrm::jsonb);
  end;
  return v_result;
end
$$;

revoke all on function loyalty._finish_carried(jsonb) from public, anon, authenticated, service_role;
revoke all on function loyalty.claim_update(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.claim_update(jsonb) to service_role;
revoke all on function loyalty.call_claimed(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.call_claimed(jsonb) to service_role;
