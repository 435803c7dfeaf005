-- loyalty-rs storage: loyalty.enqueue_messages also says whether any webhook endpoint is registered
-- (after 20261215090100_loyalty_campaign_awards_reads).
--
-- Its answer becomes {"messages": [<the messages added>], "webhooks": <bool>} (it was the array of
-- messages alone): `webhooks` is false when no endpoint, the program's or a partner's, is registered
-- and not removed. The engine then fans the events among the messages out to no endpoint without
-- calling loyalty.webhook_targets — one request less after each update that writes an event (a credit,
-- a redemption) in a program without webhooks. Everything else is as in
-- 20261214090000_loyalty_finish_updates. The model store (loyalty_core::stores::memory) and the SQLite
-- statements (ENQUEUE_MESSAGES) are the other homes of this rule; the conformance check outbox holds
-- them to it.
--
-- Upgrading: a Worker or server of an earlier version cannot read the new answer; until it is
-- replaced, its updates' messages are sent without the outbox (at most once, the failure reported),
-- as when the outbox is unreachable. Safe to run again.

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
  -- The partial indexes webhooks_partner_idx and webhooks_program_idx hold only the endpoints not removed.
  return jsonb_build_object(
    'messages', v_result,
    'webhooks', exists (select 1 from loyalty.webhooks w where w.removed_at is null));
end
$$;

revoke all on function loyalty.enqueue_messages(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.enqueue_messages(jsonb) to service_role;
