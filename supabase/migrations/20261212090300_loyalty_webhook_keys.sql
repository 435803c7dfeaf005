-- loyalty-rs: idempotency keys of webhook endpoints' registrations (after
-- 20261212090100_loyalty_webhooks).
--
-- A bot update processed again after a crash, or a POS request retried,
-- registered a second endpoint with a second secret. AddWebhook now carries
-- an idempotency key (1 to 200 characters; storage::check_webhook checks it
-- with the URL and the events, before the call), scoped to the owner: the
-- program's endpoints are one scope, each partner's another. add_webhook
-- answers {"webhook": Webhook, "replayed": bool} (WebhookAdded):
--
-- * a key the owner used before, with the same URL and the same events
--   (compared as sets, whatever their order), answers the endpoint it made —
--   as it is now, even removed since, with its own secret — with `replayed`
--   true; nothing changes, and neither the partner's status nor the limit is
--   checked;
-- * such a key with another URL or other events is idempotency_conflict;
-- * a fresh key is checked as before (partner_not_approved, webhook_limit)
--   and recorded with the new endpoint.
--
-- Concurrency: the key is looked up after the owner's lock (the partner's row
-- FOR NO KEY UPDATE, or the advisory lock of namespace 8 for the program's
-- endpoints), so of two registrations with one key the second sees the
-- first's endpoint; the unique index on (coalesce(partner_id, 0),
-- idempotency_key) backs it. Endpoints registered before this migration have
-- no key. The model store (loyalty_core::stores::memory) and the SQLite
-- statements (loyalty_core::stores::d1, schema 13) are the other homes of
-- these rules. Safe to run again.

alter table loyalty.webhooks add column if not exists idempotency_key text;
alter table loyalty.webhooks drop constraint if exists webhooks_idempotency_key_check;
alter table loyalty.webhooks add constraint webhooks_idempotency_key_check
  check (char_length(idempotency_key) between 1 and 200);

-- An owner's keys: the program's endpoints (no partner) are the scope 0.
create unique index if not exists webhooks_key_idx on loyalty.webhooks (coalesce(partner_id, 0), idempotency_key)
  where idempotency_key is not null;

-- req: AddWebhook (URL, events and key checked by the caller); WebhookAdded.
-- The owner: a partner by its owner's reference (unknown_partner), locked;
-- the program's under its advisory lock. Then the owner's key: used before,
-- the endpoint it made (`replayed`) for the same URL and events (as sets),
-- else idempotency_conflict. A fresh key: partner_not_approved (with
-- `status`) for a partner's; then, for any owner, webhook_limit (`{"max":
-- 10}`) when it has 10 endpoints not removed. Inserts the endpoint (events in
-- the order given, no attempt yet, the key) and answers it.
create or replace function loyalty.add_webhook(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_max constant bigint := 10; -- outgoing::MAX_WEBHOOKS
  v_key text := req->>'idempotency_key';
  v_events text[] := array(select e.name from jsonb_array_elements_text(req->'events') with ordinality e (name, n)
                            order by e.n);
  v_partner loyalty.partners;
  v_hook loyalty.webhooks;
begin
  case req#>>'{owner,kind}'
    when 'program' then
      -- One registration of the program's at a time (namespace 8: the program's webhook endpoints).
      perform loyalty._lock_key(8, 'program');
    when 'partner' then
      -- One registration of this partner's at a time; its status cannot change under it.
      select * into v_partner from loyalty.partners p where p.id = loyalty._partner_id(req#>'{owner,partner}')
      for no key update;
      if not found then
        perform loyalty._reject('unknown_partner');
      end if;
    else
      raise exception 'loyalty: malformed webhook owner %', req->'owner';
  end case;
  -- Under the owner's lock: a registration with this key committed before, or waits for us.
  select * into v_hook from loyalty.webhooks w
   where coalesce(w.partner_id, 0) = coalesce(v_partner.id, 0) and w.idempotency_key = v_key;
  if found then
    if v_hook.url is distinct from req->>'url' or not (v_hook.events @> v_events and v_events @> v_hook.events) then
      perform loyalty._reject('idempotency_conflict');
    end if;
    return jsonb_build_object('webhook', loyalty._webhook_json(v_hook), 'replayed', true);
  end if;
  if v_partner.id is not null and v_partner.status <> 'approved' then
    perform loyalty._reject('partner_not_approved', jsonb_build_object('status', v_partner.status));
  end if;
  if (select count(*) from loyalty._owner_webhooks(v_partner.id)) >= v_max then
    perform loyalty._reject('webhook_limit', jsonb_build_object('max', v_max));
  end if;
  insert into loyalty.webhooks (partner_id, url, events, secret, created_at, idempotency_key)
  values (v_partner.id, req->>'url', v_events, req->>'secret', (req->>'now')::bigint, v_key)
  returning * into v_hook;
  return jsonb_build_object('webhook', loyalty._webhook_json(v_hook), 'replayed', false);
end
$$;

revoke all on function loyalty.add_webhook(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.add_webhook(jsonb) to service_role;
