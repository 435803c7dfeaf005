-- Campaigns (loyalty_core::program::campaigns): bonuses on purchases for a
-- period, each with a budget, made by an admin or by a partner for its own
-- place; what each paid on which accrual; customers' birthdays.
--
-- The rule of awards is loyalty._campaign_awards (the model store's
-- campaign_awards, the SQLite statement CAMPAIGN_AWARDS): on a purchase,
-- every running campaign for the partner and the customer's tier whose
-- weekday, hours and kind's condition hold and whose budget, the customer's
-- cap and (birthday) the once-a-year rule leave room for its whole award; of
-- the multipliers only the one paying most (then the oldest). A multiplier
-- pays floor(n × (bps − 10 000) / 10 000) on the purchase's points n after the
-- tier (rules::stacked less n). The budget is claimed by a conditional update
-- of the campaign's row, so concurrent credits never overspend it; the
-- customer's row is locked by the credit, so their cap holds too. A reversed
-- accrual gives its awards back to the budgets (loyalty._entries_awards_back).

create table if not exists loyalty.campaigns (
  id bigint generated always as identity primary key,
  title jsonb not null,
  kind text not null,
  multiplier_bps integer not null,
  points bigint not null,
  nth integer not null,
  window_days integer not null,
  weekdays smallint not null,
  hour_from smallint not null,
  hour_to smallint not null,
  utc_offset_minutes integer not null,
  partner_id bigint references loyalty.partners (id),
  tiers integer not null,
  cap_per_customer bigint,
  budget bigint not null,
  issued bigint not null default 0,
  starts_at bigint not null,
  ends_at bigint not null,
  status text not null,
  author_type text not null,
  author_id bigint not null,
  created_at bigint not null,
  constraint campaigns_title_check check (jsonb_typeof(title) = 'object'),
  constraint campaigns_kind_check check (kind in ('multiplier', 'first_purchase', 'birthday', 'nth_visit')),
  constraint campaigns_multiplier_check check (multiplier_bps between 10000 and 100000),
  constraint campaigns_points_check check (points >= 0 and nth >= 0 and window_days >= 0),
  constraint campaigns_weekdays_check check (weekdays between 1 and 127),
  constraint campaigns_hours_check check (hour_from between 0 and 23 and hour_to between 1 and 24),
  constraint campaigns_offset_check check (utc_offset_minutes between -720 and 840),
  constraint campaigns_tiers_check check (tiers between 1 and 2047),
  constraint campaigns_cap_check check (cap_per_customer > 0),
  constraint campaigns_budget_check check (budget > 0 and issued between 0 and budget),
  constraint campaigns_period_check check (ends_at > starts_at),
  constraint campaigns_status_check check (status in ('pending', 'active', 'rejected', 'ended')),
  constraint campaigns_author_check check (author_type in ('admin', 'partner'))
);

create index if not exists campaigns_running_idx on loyalty.campaigns (ends_at) where status = 'active';
create index if not exists campaigns_by_partner_idx on loyalty.campaigns (partner_id, id);

create table if not exists loyalty.campaign_awards (
  entry_id bigint not null references loyalty.entries (id),
  campaign_id bigint not null references loyalty.campaigns (id),
  customer_id bigint not null references loyalty.customers (id),
  points bigint not null,
  created_at bigint not null,
  reversed boolean not null default false,
  primary key (entry_id, campaign_id),
  constraint campaign_awards_points_check check (points > 0)
);

create index if not exists campaign_awards_by_customer_idx on loyalty.campaign_awards (campaign_id, customer_id, created_at)
  where not reversed;

create table if not exists loyalty.birthdays (
  customer_id bigint primary key references loyalty.customers (id),
  month smallint not null,
  day smallint not null,
  created_at bigint not null,
  constraint birthdays_date_check check (month between 1 and 12 and day between 1 and 31)
);

-- An imported customer's date of birth is their birthday, if it is a date that
-- exists (the model's imported_birthday); those imported before get theirs here.
create or replace function loyalty._date_of_birth(p_text text) returns date
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_date date;
begin
  if p_text is null or p_text !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then
    return null;
  end if;
  begin
    v_date := p_text::date;
  exception when others then
    return null;
  end;
  return case when to_char(v_date, 'YYYY-MM-DD') = p_text then v_date end;
end
$$;

create or replace function loyalty._imports_birthday() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  insert into loyalty.birthdays (customer_id, month, day, created_at)
  select new.customer_id, extract(month from d), extract(day from d), new.imported_at
    from (select loyalty._date_of_birth(new.birthday) as d) x
   where d is not null
  on conflict do nothing;
  return null;
end
$$;

drop trigger if exists imports_birthday on loyalty.imports;
create trigger imports_birthday after insert on loyalty.imports
  for each row execute function loyalty._imports_birthday();

insert into loyalty.birthdays (customer_id, month, day, created_at)
select customer_id, extract(month from d), extract(day from d), imported_at
  from (select i.customer_id, i.imported_at, loyalty._date_of_birth(i.birthday) as d from loyalty.imports i) x
 where d is not null
on conflict do nothing;

alter table loyalty.campaigns enable row level security;
alter table loyalty.campaign_awards enable row level security;
alter table loyalty.birthdays enable row level security;
revoke all on loyalty.campaigns, loyalty.campaign_awards, loyalty.birthdays
  from public, anon, authenticated, service_role;

-- The JSON of Campaign.
create or replace function loyalty._campaign_json(c loyalty.campaigns) returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', c.id,
    'terms', jsonb_build_object('title', c.title, 'kind', c.kind, 'multiplier_bps', c.multiplier_bps,
                                'points', c.points, 'nth', c.nth, 'window_days', c.window_days,
                                'weekdays', c.weekdays, 'hour_from', c.hour_from, 'hour_to', c.hour_to,
                                'utc_offset_minutes', c.utc_offset_minutes, 'partner', c.partner_id,
                                'tiers', c.tiers, 'cap_per_customer', c.cap_per_customer, 'budget', c.budget,
                                'starts_at', c.starts_at, 'ends_at', c.ends_at),
    'status', c.status, 'issued', c.issued,
    'created_by', jsonb_build_object('type', c.author_type, 'id', c.author_id),
    'created_at', c.created_at)
$$;

-- The Awards of accrual p_entry, in campaign id order.
create or replace function loyalty._awards_of(p_entry bigint) returns jsonb
language sql
stable
set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_build_object('campaign', c.id, 'kind', c.kind, 'title', c.title,
                                               'multiplier_bps', c.multiplier_bps, 'points', a.points)
                            order by c.id), '[]'::jsonb)
    from loyalty.campaign_awards a join loyalty.campaigns c on c.id = a.campaign_id
   where a.entry_id = p_entry
$$;

-- The campaigns' awards on a purchase of customer p_customer (row locked by the
-- caller) at p_partner, tier p_tier, p_accrual its points before campaigns, at
-- p_now: claims each award's points from its campaign's budget and returns the
-- Awards, in campaign id order.
create or replace function loyalty._campaign_awards(
  p_customer bigint, p_partner bigint, p_tier integer, p_accrual bigint, p_now bigint
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_visits bigint;
  v_birthday loyalty.birthdays;
  v_multiplied boolean := false;
  v_awards jsonb := '[]'::jsonb;
  o record;
begin
  select count(*) into v_visits from loyalty.entries e
   where e.customer_id = p_customer and e.partner_id = p_partner and e.kind = 'accrual';
  select * into v_birthday from loyalty.birthdays b where b.customer_id = p_customer;
  for o in
    select d.*
      from (select c.id, c.kind, c.title, c.multiplier_bps, c.budget, c.cap_per_customer, c.window_days,
                   c.utc_offset_minutes, c.nth, c.weekdays, c.hour_from, c.hour_to,
                   case when c.kind = 'multiplier' then div(p_accrual::numeric * (c.multiplier_bps - 10000), 10000)
                        else c.points end as pts,
                   div(p_now + c.utc_offset_minutes * 60, 86400) as today,
                   div(mod(p_now + c.utc_offset_minutes * 60, 86400), 3600) as hour
              from loyalty.campaigns c
             where c.status = 'active' and c.ends_at > p_now and c.starts_at <= p_now
               and (c.partner_id is null or c.partner_id = p_partner)
               and (c.tiers >> p_tier) & 1 = 1) d
     where d.pts > 0
       and (d.weekdays >> mod(d.today + 3, 7)::integer) & 1 = 1
       and case when d.hour_from < d.hour_to then d.hour >= d.hour_from and d.hour < d.hour_to
                when d.hour_from > d.hour_to then d.hour >= d.hour_from or d.hour < d.hour_to
                else true end
       and case d.kind
             when 'first_purchase' then v_visits = 0
             when 'nth_visit' then mod(v_visits + 1, d.nth) = 0
             else true end
     order by d.kind <> 'multiplier', d.pts desc, d.id
  loop
    if o.kind = 'multiplier' and v_multiplied then
      continue;
    end if;
    if o.kind = 'birthday' then
      declare
        v_year integer := extract(year from to_timestamp(o.today * 86400) at time zone 'UTC')::integer;
        v_this bigint := (make_date(v_year, v_birthday.month, 1) - date '1970-01-01') + v_birthday.day - 1;
        v_since bigint;
      begin
        if v_birthday.customer_id is null then
          continue;
        end if;
        v_since := case when v_this <= o.today then v_this
                        else (make_date(v_year - 1, v_birthday.month, 1) - date '1970-01-01') + v_birthday.day - 1 end;
        if o.today - v_since >= o.window_days or exists (
          select 1 from loyalty.campaign_awards a
           where a.campaign_id = o.id and a.customer_id = p_customer and not a.reversed
             and a.created_at >= v_since * 86400 - o.utc_offset_minutes * 60) then
          continue;
        end if;
      end;
    end if;
    if o.cap_per_customer is not null and (
      select coalesce(sum(a.points), 0) from loyalty.campaign_awards a
       where a.campaign_id = o.id and a.customer_id = p_customer and not a.reversed) + o.pts > o.cap_per_customer then
      continue;
    end if;
    -- The budget: claimed by a conditional update (a concurrent credit's claim is seen once it commits).
    update loyalty.campaigns set issued = issued + o.pts where id = o.id and issued + o.pts <= budget;
    if not found then
      continue;
    end if;
    v_multiplied := v_multiplied or o.kind = 'multiplier';
    v_awards := v_awards || jsonb_build_object('campaign', o.id, 'kind', o.kind, 'title', o.title,
                                               'multiplier_bps', o.multiplier_bps, 'points', o.pts);
  end loop;
  return coalesce((select jsonb_agg(a order by (a->>'campaign')::bigint) from jsonb_array_elements(v_awards) a),
                  '[]'::jsonb);
end
$$;

-- A reversed accrual gives back what campaigns paid on it.
create or replace function loyalty._entries_awards_back() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  update loyalty.campaigns c set issued = c.issued - a.points
    from loyalty.campaign_awards a
   where a.entry_id = new.reverses and a.campaign_id = c.id and not a.reversed;
  update loyalty.campaign_awards set reversed = true where entry_id = new.reverses;
  return null;
end
$$;

drop trigger if exists entries_awards_back on loyalty.entries;
create trigger entries_awards_back after insert on loyalty.entries
  for each row when (new.kind = 'reversal') execute function loyalty._entries_awards_back();

-- The partner acting in a CampaignActor (null for an admin), refused unless approved.
create or replace function loyalty._campaign_partner(p_by jsonb) returns bigint
language plpgsql
set search_path = ''
as $$
declare
  v_partner loyalty.partners;
begin
  if p_by->>'by' <> 'partner' then
    return null;
  end if;
  select * into v_partner from loyalty.partners p where p.id = loyalty._partner_id(p_by->'value');
  if not found then
    perform loyalty._reject('unknown_partner');
  end if;
  if v_partner.status <> 'approved' then
    perform loyalty._reject('partner_not_approved', jsonb_build_object('status', v_partner.status));
  end if;
  return v_partner.id;
end
$$;

-- req: CreateCampaign (the terms checked by the caller); Campaign.
create or replace function loyalty.create_campaign(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_partner bigint := loyalty._campaign_partner(req->'by');
  v_policy text := coalesce((select r.doc#>>'{campaigns,partners}' from loyalty.rules r
                              order by r.version desc limit 1), 'approval');
  v_terms jsonb := req->'terms';
  v_campaign loyalty.campaigns;
begin
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
  return loyalty._campaign_json(v_campaign);
end
$$;

-- req: DecideCampaign; Campaign.
create or replace function loyalty.decide_campaign(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_partner bigint := loyalty._campaign_partner(req->'by');
  v_decision text := req->>'decision';
  v_campaign loyalty.campaigns;
  v_allowed boolean;
begin
  select * into v_campaign from loyalty.campaigns c where c.id = (req->>'campaign')::bigint for update;
  if not found or (v_partner is not null and (v_campaign.author_type <> 'partner'
                                               or v_campaign.author_id <> v_partner)) then
    perform loyalty._reject('unknown_campaign');
  end if;
  v_allowed := case when v_decision = 'end' then v_campaign.status in ('pending', 'active')
                    else v_campaign.status = 'pending' and v_partner is null end;
  if not v_allowed then
    perform loyalty._reject('campaign_closed', jsonb_build_object('status', v_campaign.status));
  end if;
  update loyalty.campaigns c
     set status = case v_decision when 'approve' then 'active' when 'reject' then 'rejected' else 'ended' end
   where c.id = v_campaign.id
  returning * into v_campaign;
  return loyalty._campaign_json(v_campaign);
end
$$;

-- req: ListCampaigns; [Campaign], newest first.
create or replace function loyalty.campaigns(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_limit bigint := (req->>'limit')::bigint;
  v_partner bigint;
begin
  if v_limit is null or v_limit not between 1 and 100 then
    perform loyalty._reject('invalid_amount');
  end if;
  if jsonb_typeof(req->'partner') = 'object' then
    v_partner := loyalty._partner_id(req->'partner');
    if v_partner is null then
      perform loyalty._reject('unknown_partner');
    end if;
  end if;
  return coalesce((
    select jsonb_agg(loyalty._campaign_json(c) order by c.id desc)
      from (select * from loyalty.campaigns c
             where v_partner is null or c.partner_id = v_partner
             order by c.id desc limit v_limit) c), '[]'::jsonb);
end
$$;

-- req: SetBirthday (the date checked by the caller); Birthday.
create or replace function loyalty.set_birthday(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_customer bigint := loyalty._customer_id(req->'customer');
  v_on_record loyalty.birthdays;
begin
  if v_customer is null then
    perform loyalty._reject('unknown_customer');
  end if;
  perform 1 from loyalty.customers c where c.id = v_customer for update;
  select * into v_on_record from loyalty.birthdays b where b.customer_id = v_customer;
  if found then
    perform loyalty._reject('birthday_already_set',
      jsonb_build_object('birthday', jsonb_build_object('month', v_on_record.month, 'day', v_on_record.day)));
  end if;
  insert into loyalty.birthdays (customer_id, month, day, created_at)
  values (v_customer, (req#>>'{birthday,month}')::smallint, (req#>>'{birthday,day}')::smallint,
          (req->>'now')::bigint);
  return req->'birthday';
end
$$;

-- req: ViewRedemption; the RedemptionView of the partner's request, or null.
create or replace function loyalty.redemption(req jsonb) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((select loyalty._redemption_view(r, false) from loyalty.redemption_requests r
                    where r.id = (req->>'id')::bigint
                      and r.partner_id = loyalty._partner_id(req->'partner')), 'null'::jsonb);
$$;

-- req: CreditPurchase; Credited. The one formula of earning (rules::earned): the base, then the
-- tier's multiplier; then what campaigns add (loyalty._campaign_awards), all in one accrual entry.
create or replace function loyalty.credit_purchase(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key text := req->>'idempotency_key';
  v_purchase bigint := (req->>'purchase')::bigint;
  v_day_start bigint := (req->>'day_start')::bigint;
  v_existing loyalty.entries;
  v_partner loyalty.partners;
  v_customer loyalty.customers;
  v_partner_id bigint;
  v_customer_id bigint;
  v_amount bigint;
  v_used numeric;
  v_entry loyalty.entries;
  v_tier_before smallint;
  v_awards jsonb;
begin
  perform loyalty._check_key(v_key);
  perform loyalty._lock_key(1, v_key);
  select * into v_existing from loyalty.entries e where e.idempotency_key = v_key;
  if found then
    if v_existing.kind <> 'accrual'
       or v_existing.partner_id is null
       or v_existing.partner_id is distinct from loyalty._partner_id(req->'partner')
       or v_existing.customer_id is distinct from loyalty._customer_id(req->'customer')
       or v_existing.purchase is distinct from v_purchase then
      perform loyalty._reject('idempotency_conflict');
    end if;
    return jsonb_build_object('entry', loyalty._entry_json(v_existing),
                              'customer', loyalty._customer_now(v_existing.customer_id),
                              'partner', loyalty._partner_now(v_existing.partner_id),
                              'replayed', true,
                              'tier_before', (select c.tier from loyalty.customers c
                                               where c.id = v_existing.customer_id),
                              'awards', loyalty._awards_of(v_existing.id));
  end if;
  if v_purchase not between 1 and 1000000000000 then
    perform loyalty._reject('invalid_amount');
  end if;
  v_partner_id := loyalty._partner_id(req->'partner');
  if v_partner_id is null then
    perform loyalty._reject('unknown_partner');
  end if;
  -- Locked for the daily limit: one credit of this partner at a time.
  select * into v_partner from loyalty.partners p where p.id = v_partner_id for update;
  if v_partner.status <> 'approved' then
    perform loyalty._reject('partner_not_approved', jsonb_build_object('status', v_partner.status));
  end if;
  v_customer_id := loyalty._customer_id(req->'customer');
  if v_customer_id is null then
    perform loyalty._reject('unknown_customer');
  end if;
  select * into v_customer from loyalty.customers c where c.id = v_customer_id for update;
  if v_customer.blocked then
    perform loyalty._reject('customer_blocked');
  end if;
  v_tier_before := v_customer.tier;
  v_amount := least(div(div(v_purchase::numeric * v_partner.earn_rate_bps, 10000)
                        * loyalty._tier_multiplier(v_tier_before), 10000), 9223372036854775807)::bigint;
  v_awards := loyalty._campaign_awards(v_customer.id, v_partner.id, v_tier_before, v_amount, (req->>'now')::bigint);
  v_amount := least(v_amount::numeric + (select coalesce(sum((a->>'points')::numeric), 0)
                                           from jsonb_array_elements(v_awards) a), 9223372036854775807)::bigint;
  select least(coalesce(sum(e.amount), 0), 9223372036854775807) into v_used
    from loyalty.entries e
   where e.partner_id = v_partner.id
     and e.created_at >= v_day_start
     and e.kind = 'accrual'
     and not exists (select 1 from loyalty.entries r where r.reverses = e.id);
  if least(v_used + v_amount, 9223372036854775807) > v_partner.daily_credit_limit then
    perform loyalty._reject('daily_limit_exceeded',
      jsonb_build_object('remaining', greatest(v_partner.daily_credit_limit - v_used, 0)));
  end if;
  v_entry := loyalty._append(v_customer.id, 'accrual', v_amount, v_partner.id, v_purchase, v_key,
                             'partner', v_partner.id, null, null, (req->>'now')::bigint);
  insert into loyalty.campaign_awards (entry_id, campaign_id, customer_id, points, created_at)
  select v_entry.id, (a->>'campaign')::bigint, v_customer.id, (a->>'points')::bigint, (req->>'now')::bigint
    from jsonb_array_elements(v_awards) a;
  return jsonb_build_object('entry', loyalty._entry_json(v_entry),
                            'customer', loyalty._customer_now(v_customer.id),
                            'partner', loyalty._partner_json(v_partner),
                            'replayed', false,
                            'tier_before', v_tier_before,
                            'awards', v_awards);
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
  if v_function is null or v_function not in (
    'register_customer', 'customer_summary', 'customer_view', 'customer_entries', 'set_language', 'set_blocked',
    'credit_purchase', 'open_redemption', 'confirm_redemption', 'decline_redemption', 'expire_redemptions',
    'reverse_entry', 'adjust_balance', 'apply_partner', 'decide_partner', 'partner', 'list_partners',
    'set_partner_api_key', 'partner_by_api_key', 'look_up_customer', 'partner_stats', 'program_stats',
    'claim_update', 'release_update', 'prune_update_claims', 'consume_quota', 'create_broadcast',
    'claim_broadcast_batch', 'record_broadcast', 'pending_broadcasts', 'program_rules', 'set_program_rules',
    'expire_points', 'remind_expiry', 'refresh_tiers', 'create_campaign', 'decide_campaign', 'campaigns',
    'set_birthday'
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

do $$
declare
  f text;
begin
  foreach f in array array['create_campaign', 'decide_campaign', 'campaigns', 'set_birthday', 'redemption', 'credit_purchase',
                           'call_claimed'] loop
    execute format('revoke all on function loyalty.%I(jsonb) from public, anon, authenticated, service_role', f);
    execute format('grant execute on function loyalty.%I(jsonb) to service_role', f);
  end loop;
  foreach f in array array['_campaign_json(loyalty.campaigns)', '_awards_of(bigint)',
                           '_campaign_awards(bigint, bigint, integer, bigint, bigint)', '_entries_awards_back()',
                           '_campaign_partner(jsonb)', '_date_of_birth(text)', '_imports_birthday()'] loop
    execute format('revoke all on function loyalty.%s from public, anon, authenticated, service_role', f);
  end loop;
end
$$;
