-- loyalty-rs storage schema: the registry of outgoing webhook endpoints.
--
-- The program (its admins) and each partner (by its owner) register HTTPS
-- endpoints (loyalty.webhooks: the URL, the events it receives in the order
-- given, its signing secret) that receive signed deliveries of those events
-- (loyalty_core::outgoing); an owner has at most 10 endpoints not removed
-- (outgoing::MAX_WEBHOOKS). add_webhook registers one (the caller checks the
-- URL and the events first: storage::check_webhook), webhooks lists an
-- owner's, remove_webhook removes one (the row stays, with removed_at), and
-- the delivery side asks webhook_targets where an event goes and tells
-- record_webhook how an attempt went. A partner's endpoints receive nothing
-- while the partner is not approved. The model store
-- (loyalty_core::stores::memory) and the SQLite statements are the other
-- homes of these rules.
--
-- An owner is `{"kind": "program"}` or `{"kind": "partner", "partner":
-- <PartnerRef>}`; only an owner's references (id, telegram) name a partner
-- (loyalty._partner_id answers null for a till's, so it is unknown_partner).
--
-- Concurrency: add_webhook locks the partner's row (FOR NO KEY UPDATE, as
-- invite_staff does) before it counts a partner's endpoints, and takes an
-- advisory lock (namespace 8: the program's webhook endpoints) before it
-- counts the program's, so concurrent registrations never pass the limit.
-- remove_webhook locks the row it removes; record_webhook is one UPDATE.
-- Safe to run again.

create table if not exists loyalty.webhooks (
  id bigint generated always as identity primary key,
  -- Null for the program's endpoints.
  partner_id bigint references loyalty.partners (id),
  url text not null,
  -- Event names (`points.credited`, …) in the order given.
  events text[] not null,
  secret text not null,
  created_at bigint not null,
  removed_at bigint,
  last_attempt_at bigint,
  last_status integer,
  last_error text,
  last_success_at bigint,
  constraint webhooks_events_check check (cardinality(events) >= 1 and array_position(events, null) is null),
  constraint webhooks_last_status_check check (last_status between 0 and 65535),
  constraint webhooks_last_error_check check (char_length(last_error) <= 200)
);

-- The endpoints not removed of a partner, and of the program: what
-- webhook_targets (the delivery fan-out), webhooks and add_webhook's count
-- read, without scanning removed rows or other partners'.
create index if not exists webhooks_partner_idx on loyalty.webhooks (partner_id, id) where removed_at is null;
create index if not exists webhooks_program_idx on loyalty.webhooks (id)
  where partner_id is null and removed_at is null;

-- As every table of the schema: no grants, and row level security without
-- policies; only the security definer functions reach it.
alter table loyalty.webhooks enable row level security;
revoke all on loyalty.webhooks from public, anon, authenticated, service_role;

-- ---------------------------------------------------------------------------
-- Helpers

-- The JSON of Webhook.
create or replace function loyalty._webhook_json(w loyalty.webhooks) returns jsonb
language sql
immutable
set search_path = ''
as $$
  select case when w.id is null then null else jsonb_build_object(
    'id', w.id,
    'partner', w.partner_id,
    'url', w.url,
    'events', to_jsonb(w.events),
    'secret', w.secret,
    'created_at', w.created_at,
    'removed_at', w.removed_at,
    'last_attempt_at', w.last_attempt_at,
    'last_status', w.last_status,
    'last_error', w.last_error,
    'last_success_at', w.last_success_at) end;
$$;

-- The partner a WebhookOwner names: null for the program's; an owner's
-- reference to a partner that exists (any status), else unknown_partner.
create or replace function loyalty._webhook_owner(p_owner jsonb) returns bigint
language plpgsql
stable
set search_path = ''
as $$
declare
  v_partner bigint;
begin
  case p_owner->>'kind'
    when 'program' then
      return null;
    when 'partner' then
      v_partner := loyalty._partner_id(p_owner->'partner');
      if v_partner is null then
        perform loyalty._reject('unknown_partner');
      end if;
      return v_partner;
    else
      raise exception 'loyalty: malformed webhook owner %', p_owner;
  end case;
end
$$;

-- The endpoints not removed of a partner (p_partner), or of the program
-- (p_partner null); each branch reads one of the partial indexes above.
create or replace function loyalty._owner_webhooks(p_partner bigint) returns setof loyalty.webhooks
language sql
stable
set search_path = ''
as $$
  select * from loyalty.webhooks w where p_partner is null and w.partner_id is null and w.removed_at is null
  union all
  select * from loyalty.webhooks w where w.partner_id = p_partner and w.removed_at is null;
$$;

-- ---------------------------------------------------------------------------
-- The calls

-- req: AddWebhook (URL and events checked by the caller); Webhook. A
-- partner's (by its owner's reference): unknown_partner,
-- partner_not_approved (with `status`); then, for any owner, webhook_limit
-- (`{"max": 10}`) when it has 10 endpoints not removed. Inserts the endpoint
-- (events in the order given, no attempt yet) and answers it.
create or replace function loyalty.add_webhook(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_max constant bigint := 10; -- outgoing::MAX_WEBHOOKS
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
      if v_partner.status <> 'approved' then
        perform loyalty._reject('partner_not_approved', jsonb_build_object('status', v_partner.status));
      end if;
    else
      raise exception 'loyalty: malformed webhook owner %', req->'owner';
  end case;
  if (select count(*) from loyalty._owner_webhooks(v_partner.id)) >= v_max then
    perform loyalty._reject('webhook_limit', jsonb_build_object('max', v_max));
  end if;
  insert into loyalty.webhooks (partner_id, url, events, secret, created_at)
  values (v_partner.id, req->>'url',
          array(select e.name from jsonb_array_elements_text(req->'events') with ordinality e (name, n)
                 order by e.n),
          req->>'secret', (req->>'now')::bigint)
  returning * into v_hook;
  return loyalty._webhook_json(v_hook);
end
$$;

-- req: {owner: WebhookOwner}; the owner's [Webhook] not removed, newest
-- first (a partner by its owner's reference, any status; unknown_partner
-- otherwise).
create or replace function loyalty.webhooks(req jsonb) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_partner bigint := loyalty._webhook_owner(req->'owner');
begin
  return coalesce((select jsonb_agg(loyalty._webhook_json(w) order by w.id desc)
                     from loyalty._owner_webhooks(v_partner) w), '[]'::jsonb);
end
$$;

-- req: RemoveWebhook; Webhook. unknown_partner (owner's references, any
-- status); unknown_webhook for no such endpoint of this owner (the program's
-- are those without a partner); removed before: answered as it is. Else
-- removed at `now` and answered.
create or replace function loyalty.remove_webhook(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_partner bigint := loyalty._webhook_owner(req->'owner');
  v_hook loyalty.webhooks;
begin
  select * into v_hook from loyalty.webhooks w
   where w.id = (req->>'id')::bigint and w.partner_id is not distinct from v_partner
  for update;
  if not found then
    perform loyalty._reject('unknown_webhook');
  end if;
  if v_hook.removed_at is null then
    update loyalty.webhooks w set removed_at = (req->>'now')::bigint
     where w.id = v_hook.id
    returning * into v_hook;
  end if;
  return loyalty._webhook_json(v_hook);
end
$$;

-- req: WebhookTargets; [Webhook]: the endpoints not removed receiving
-- `event`: the program's, and those of `partner` (an id, or null) when it is
-- approved; by id.
create or replace function loyalty.webhook_targets(req jsonb) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(jsonb_agg(loyalty._webhook_json(w) order by w.id), '[]'::jsonb)
    from (select w.* from loyalty.webhooks w
           where w.partner_id is null and w.removed_at is null and (req->>'event') = any (w.events)
          union all
          select w.* from loyalty.webhooks w join loyalty.partners p on p.id = w.partner_id
           where w.partner_id = (req->>'partner')::bigint and w.removed_at is null
             and (req->>'event') = any (w.events) and p.status = 'approved') w;
$$;

-- req: RecordWebhook; null. The endpoint (removed or not) gets the attempt's
-- time, status and error (cut to 200 characters), and a 2xx status sets
-- last_success_at too; an unknown id changes nothing.
create or replace function loyalty.record_webhook(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_at bigint := (req->>'at')::bigint;
  v_status integer := (req->>'status')::integer;
begin
  update loyalty.webhooks w
     set last_attempt_at = v_at,
         last_status = v_status,
         last_error = left(req->>'error', 200),
         last_success_at = case when v_status between 200 and 299 then v_at else w.last_success_at end
   where w.id = (req->>'id')::bigint;
  return 'null'::jsonb;
end
$$;

insert into loyalty.claimable_functions (name)
values ('add_webhook'), ('webhooks'), ('remove_webhook'), ('webhook_targets'), ('record_webhook')
on conflict do nothing;

do $$
declare
  f text;
begin
  foreach f in array array['add_webhook', 'webhooks', 'remove_webhook', 'webhook_targets', 'record_webhook'] loop
    execute format('revoke all on function loyalty.%I(jsonb) from public, anon, authenticated, service_role', f);
    execute format('grant execute on function loyalty.%I(jsonb) to service_role', f);
  end loop;
  foreach f in array array['_webhook_json(loyalty.webhooks)', '_webhook_owner(jsonb)', '_owner_webhooks(bigint)'] loop
    execute format('revoke all on function loyalty.%s from public, anon, authenticated, service_role', f);
  end loop;
end
$$;
