-- loyalty-rs storage: one home for finishing updates (after 20261213090100_loyalty_plpgsql_helpers).
--
-- Finishing an update drops its kept body (loyalty.update_bodies): its
-- messages are in the outbox, or it had none. Two callers finish updates:
-- loyalty.enqueue_messages (its "updates", with the messages they produced)
-- and a claim's "finished" (loyalty._finish_carried, from loyalty.claim_update
-- and loyalty.call_claimed). Both now go through loyalty._finish_updates, the
-- one statement of the rule. Finishing twice, or an update never claimed,
-- changes nothing; at most 100 are taken (storage::MAX_MESSAGE_BATCH), a value
-- that is not an array finishes none.
--
-- The model store (loyalty_core::stores::memory) and the SQLite statements
-- (finish_updates!, used by ENQUEUE_MESSAGES, CLAIM and CLAIM_UPDATE) are the
-- other homes of this rule; the conformance checks outbox and carried_finishes
-- hold them to it. Safe to run again.

create or replace function loyalty._finish_updates(updates jsonb) returns void
language sql
security definer
set search_path = ''
as $$
  delete from loyalty.update_bodies b
   using (select u.value
            from jsonb_array_elements(case jsonb_typeof(updates) when 'array' then updates else '[]'::jsonb end)
                 with ordinality u(value, ord)
           where u.ord <= 100) u
   where b.bot = (u.value->>'bot')::bigint and b.update_id = (u.value->>'update_id')::bigint;
$$;

create or replace function loyalty._finish_carried(claim jsonb) returns void
language sql
security definer
set search_path = ''
as $$
  select loyalty._finish_updates(claim->'finished');
$$;

create or replace function loyalty.enqueue_messages(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_source text := req->>'source';
  v_messages jsonb := coalesce(req->'messages', '[]'::jsonb);
  v_updates jsonb := coalesce(req->'updates', '[]'::jsonb);
  v_result jsonb;
begin
  if v_source is null or char_length(v_source) not between 1 and 200
     or jsonb_typeof(v_messages) <> 'array' or jsonb_array_length(v_messages) > 100
     or jsonb_typeof(v_updates) <> 'array' or jsonb_array_length(v_updates) > 100
     or exists (select 1 from jsonb_array_elements(v_messages) m
                 where jsonb_typeof(m->'payload') is distinct from 'string' or octet_length(m->>'payload') > 65536) then
    raise exception using errcode = 'LY001', message = '{"code":"invalid_amount"}';
  end if;
  perform loyalty._finish_updates(v_updates);
  with added as (
    insert into loyalty.outbox (source, seq, chat, payload, next_at, created_at)
    select v_source, (m.ord - 1)::integer, (m.value->>'chat')::bigint, m.value->>'payload',
           (req->>'lease_until')::bigint, (req->>'now')::bigint
      from jsonb_array_elements(v_messages) with ordinality m(value, ord)
     order by m.ord
    on conflict (source, seq) do nothing
    returning id, chat, payload, attempts
  )
  select coalesce(jsonb_agg(jsonb_build_object('id', a.id, 'chat', a.chat, 'payload', a.payload,
                                               'attempts', a.attempts) order by a.id), '[]'::jsonb)
    into v_result
    from added a;
  return v_result;
end
$$;

revoke all on function loyalty._finish_updates(jsonb) from public, anon, authenticated, service_role;
revoke all on function loyalty._finish_carried(jsonb) from public, anon, authenticated, service_role;
revoke all on function loyalty.enqueue_messages(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.enqueue_messages(jsonb) to service_role;
