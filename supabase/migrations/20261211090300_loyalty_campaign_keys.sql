-- loyalty-rs storage schema: idempotency keys of campaigns.
--
-- create_campaign takes an optional `idempotency_key` (CreateCampaign). With
-- a key used before by create_campaign, the terms and the actor as asked in
-- the request (its `terms` and `by`, not the campaign as stored) are compared
-- with those of the first request, before anything else is checked: the same
-- answer the campaign made then, as it is now (nothing new); others are
-- idempotency_conflict. A campaign made with a key records it, with the
-- campaign and the request's terms and actor, in loyalty.campaign_keys — a
-- namespace of its own (a ledger entry's key does not collide with one).
-- Without a key, nothing changes. The key's advisory lock (namespace 6) makes
-- concurrent calls with one key run one after the other: the first makes the
-- campaign, the others answer it. The rest of create_campaign is as in
-- 20261207100000_loyalty_campaigns. The model store
-- (loyalty_core::stores::memory) and the SQLite statements are the other
-- homes of these rules. Safe to run again.

create table if not exists loyalty.campaign_keys (
  idempotency_key text primary key,
  campaign_id bigint not null references loyalty.campaigns (id),
  request jsonb not null,
  constraint campaign_keys_request_check check (jsonb_typeof(request) = 'object')
);

-- As every table of the schema: no grants, and row level security without
-- policies; only the security definer functions reach it.
alter table loyalty.campaign_keys enable row level security;
revoke all on loyalty.campaign_keys from public, anon, authenticated, service_role;

-- req: CreateCampaign (the terms checked by the caller); Campaign.
create or replace function loyalty.create_campaign(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key text := req->>'idempotency_key';
  v_asked jsonb := jsonb_build_object('terms', req->'terms', 'by', req->'by');
  v_known loyalty.campaign_keys;
  v_partner bigint;
  v_policy text;
  v_terms jsonb := req->'terms';
  v_campaign loyalty.campaigns;
begin
  if v_key is not null then
    perform loyalty._lock_key(6, v_key);
    select * into v_known from loyalty.campaign_keys k where k.idempotency_key = v_key;
    if found then
      if v_known.request <> v_asked then
        perform loyalty._reject('idempotency_conflict');
      end if;
      select * into v_campaign from loyalty.campaigns c where c.id = v_known.campaign_id;
      return loyalty._campaign_json(v_campaign);
    end if;
  end if;
  v_partner := loyalty._campaign_partner(req->'by');
  v_policy := coalesce((select r.doc#>>'{campaigns,partners}' from loyalty.rules r
                         order by r.version desc limit 1), 'approval');
  if v_partner is not null and v_policy = 'off' then
    perform loyalty._reject('partner_campaigns_off');
  end if;
  insert into loyalty.campaigns (title, kind, multiplier_bps, points, nth, window_days, weekdays, hour_from,
                                 hour_to, utc_offset_minutes, partner_id, tiers, cap_per_customer, budget,
                                 starts_at, ends_at, status, author_type, author_id, created_at)
  values (v_terms->'title', v_terms->>'kind', (v_terms->>'multiplier_bps')::integer, (v_terms->>'points')::bigint,
          (v_terms->>'nth')::integer, (v_terms->>'window_days')::integer, (v_terms->>'weekdays')::smallint,
          (v_terms->>'hour_from')::smallint, (v_terms->>'hour_to')::smallint,
          (v_terms->>'utc_offset_minutes')::integer, coalesce(v_partner, (v_terms->>'partner')::bigint),
          (v_terms->>'tiers')::integer, (v_terms->>'cap_per_customer')::bigint, (v_terms->>'budget')::bigint,
          (v_terms->>'starts_at')::bigint, (v_terms->>'ends_at')::bigint,
          case when v_partner is null or v_policy = 'open' then 'active' else 'pending' end,
          case when v_partner is null then 'admin' else 'partner' end,
          coalesce(v_partner, (req#>>'{by,value}')::bigint), (req->>'now')::bigint)
  returning * into v_campaign;
  if v_key is not null then
    insert into loyalty.campaign_keys (idempotency_key, campaign_id, request)
    values (v_key, v_campaign.id, v_asked);
  end if;
  return loyalty._campaign_json(v_campaign);
end
$$;

revoke all on function loyalty.create_campaign(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.create_campaign(jsonb) to service_role;
