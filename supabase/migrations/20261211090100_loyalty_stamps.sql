-- loyalty-rs storage schema: stamp cards ("the 10th coffee is free").
--
-- An approved partner runs at most one stamp card (loyalty.stamp_cards: the
-- stamps that fill it, 2..=50, and the reward, 1..=100 characters without
-- surrounding spaces); `needed` 0 ends it by deleting the row, and the
-- customers' stamps (loyalty.stamps, per partner and customer: the stamps on
-- the current card and the cards filled) stay for when it comes back. A stamp
-- (add_stamp) is idempotent by its key (loyalty.stamp_visits, a namespace of
-- its own): the `needed`-th stamp, or the next one on a card made smaller
-- since, fills the card, which starts again empty. Stamps are not points: no
-- entry is written. The model store (loyalty_core::stores::memory) and the
-- SQLite statements are the other homes of these rules.
--
-- Lock order as everywhere (key → partner → request → customer): a stamp
-- takes its key's advisory lock (namespace 5), then shares the partner's card
-- row (so the card cannot change or end under it), then shares the customer's
-- row (so it cannot be blocked or erased under it), then counts on the
-- (partner, customer) row of loyalty.stamps with one INSERT … ON CONFLICT DO
-- UPDATE, so concurrent stamps count exactly and concurrent calls with one key
-- give one stamp and replays. Safe to run again.

create table if not exists loyalty.stamp_cards (
  partner_id bigint primary key references loyalty.partners (id),
  needed integer not null,
  reward text not null,
  updated_at bigint not null,
  constraint stamp_cards_needed_check check (needed between 2 and 50),
  constraint stamp_cards_reward_check check (char_length(reward) between 1 and 100)
);

create table if not exists loyalty.stamps (
  partner_id bigint not null references loyalty.partners (id),
  customer_id bigint not null references loyalty.customers (id),
  stamps integer not null default 0,
  completed integer not null default 0,
  primary key (partner_id, customer_id),
  constraint stamps_stamps_check check (stamps >= 0),
  constraint stamps_completed_check check (completed >= 0)
);

create table if not exists loyalty.stamp_visits (
  idempotency_key text primary key,
  partner_id bigint not null references loyalty.partners (id),
  customer_id bigint not null references loyalty.customers (id),
  completed boolean not null,
  created_at bigint not null
);

-- As every table of the schema: no grants, and row level security without
-- policies; only the security definer functions below reach them.
alter table loyalty.stamp_cards enable row level security;
alter table loyalty.stamps enable row level security;
alter table loyalty.stamp_visits enable row level security;
revoke all on loyalty.stamp_cards, loyalty.stamps, loyalty.stamp_visits
  from public, anon, authenticated, service_role;

-- The JSON of StampCard.
create or replace function loyalty._stamp_card_json(s loyalty.stamp_cards) returns jsonb
language sql
immutable
set search_path = ''
as $$
  select jsonb_build_object('partner', s.partner_id, 'needed', s.needed, 'reward', s.reward,
                            'updated_at', s.updated_at);
$$;

-- The JSON of StampProgress: the customer's stamps on the card as they are now
-- (0 and 0 before the first).
create or replace function loyalty._stamp_progress(s loyalty.stamp_cards, p_customer bigint) returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'customer', p_customer,
    'card', loyalty._stamp_card_json(s),
    'partner_name', (select p.name from loyalty.partners p where p.id = s.partner_id),
    'stamps', coalesce(k.stamps, 0),
    'completed', coalesce(k.completed, 0))
    from (select 1) one
    left join loyalty.stamps k on k.partner_id = s.partner_id and k.customer_id = p_customer;
$$;

-- req: SetStampCard; StampCard, or null when `needed` is 0 (the card ends;
-- the stamps stay). invalid_stamp_card (with a `reason`) for terms out of
-- range (stamp::check_card: `needed` 2..=50, the reward 1..=100 characters
-- without surrounding white space), then unknown_partner, partner_not_approved.
create or replace function loyalty.set_stamp_card(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_needed bigint := (req->>'needed')::bigint;
  v_reward text := req->>'reward';
  -- White space as Rust's char::is_whitespace has it.
  v_space text := '[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]';
  v_partner loyalty.partners;
  v_card loyalty.stamp_cards;
begin
  if v_needed is distinct from 0 then
    if v_needed is null or v_needed not between 2 and 50 then
      perform loyalty._reject('invalid_stamp_card', jsonb_build_object('reason', 'a card needs 2 to 50 stamps'));
    end if;
    if v_reward is null or char_length(v_reward) not between 1 and 100
       or v_reward ~ ('^' || v_space) or v_reward ~ (v_space || '$') then
      perform loyalty._reject('invalid_stamp_card', jsonb_build_object(
        'reason', 'the reward is 1 to 100 characters, without surrounding spaces'));
    end if;
  end if;
  v_partner := loyalty._approved_partner(req->'partner');
  if v_needed = 0 then
    delete from loyalty.stamp_cards s where s.partner_id = v_partner.id;
    return 'null'::jsonb;
  end if;
  insert into loyalty.stamp_cards (partner_id, needed, reward, updated_at)
  values (v_partner.id, v_needed, v_reward, (req->>'now')::bigint)
  on conflict (partner_id) do update
    set needed = excluded.needed, reward = excluded.reward, updated_at = excluded.updated_at
  returning * into v_card;
  return loyalty._stamp_card_json(v_card);
end
$$;

-- req: AddStamp; Stamped. Checks in order: unknown_partner,
-- partner_not_approved, no_stamp_card, unknown_customer, customer_blocked;
-- then the key: given before for this partner and customer, it answers that
-- stamp again (`completed` as then, the progress as now, `replayed`); for
-- another partner or customer, idempotency_conflict.
create or replace function loyalty.add_stamp(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key text := req->>'idempotency_key';
  v_now bigint := (req->>'now')::bigint;
  v_partner loyalty.partners;
  v_card loyalty.stamp_cards;
  v_customer loyalty.customers;
  v_visit loyalty.stamp_visits;
  v_row loyalty.stamps;
  v_completed boolean;
begin
  if v_key is null then
    raise exception 'loyalty: missing idempotency key';
  end if;
  perform loyalty._lock_key(5, v_key);
  v_partner := loyalty._approved_partner(req->'partner');
  select * into v_card from loyalty.stamp_cards s where s.partner_id = v_partner.id for share;
  if not found then
    perform loyalty._reject('no_stamp_card');
  end if;
  -- Found by Telegram id or code, the row must still have it once locked.
  select * into v_customer from loyalty.customers c
   where c.id = loyalty._customer_id(req->'customer')
     and (req#>>'{customer,by}' <> 'telegram' or c.telegram_id = (req#>>'{customer,value}')::bigint)
     and (req#>>'{customer,by}' <> 'code' or c.code = req#>>'{customer,value}')
  for share;
  if not found then
    perform loyalty._reject('unknown_customer');
  end if;
  if v_customer.blocked then
    perform loyalty._reject('customer_blocked');
  end if;
  select * into v_visit from loyalty.stamp_visits v where v.idempotency_key = v_key;
  if found then
    if v_visit.partner_id <> v_partner.id or v_visit.customer_id <> v_customer.id then
      perform loyalty._reject('idempotency_conflict');
    end if;
    return jsonb_build_object('progress', loyalty._stamp_progress(v_card, v_customer.id),
                              'completed', v_visit.completed,
                              'customer', loyalty._customer_json(v_customer),
                              'replayed', true);
  end if;
  insert into loyalty.stamps as k (partner_id, customer_id, stamps, completed)
  values (v_partner.id, v_customer.id,
          case when 1 >= v_card.needed then 0 else 1 end, case when 1 >= v_card.needed then 1 else 0 end)
  on conflict (partner_id, customer_id) do update
    set stamps = case when k.stamps + 1 >= v_card.needed then 0 else k.stamps + 1 end,
        completed = case when k.stamps + 1 >= v_card.needed then k.completed + 1 else k.completed end
  returning * into v_row;
  -- After a stamp, an empty card is one just filled.
  v_completed := v_row.stamps = 0;
  insert into loyalty.stamp_visits (idempotency_key, partner_id, customer_id, completed, created_at)
  values (v_key, v_partner.id, v_customer.id, v_completed, v_now);
  return jsonb_build_object('progress', loyalty._stamp_progress(v_card, v_customer.id),
                            'completed', v_completed,
                            'customer', loyalty._customer_json(v_customer),
                            'replayed', false);
end
$$;

-- req: {who: CustomerRef}; the customer's StampProgress at every approved
-- partner running a card, by partner id, at most 50; unknown_customer.
create or replace function loyalty.stamp_cards(req jsonb) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_customer bigint := loyalty._customer_id(req->'who');
begin
  if v_customer is null then
    perform loyalty._reject('unknown_customer');
  end if;
  return coalesce((
    select jsonb_agg(loyalty._stamp_progress(s, v_customer) order by s.partner_id)
      from (select s.* from loyalty.stamp_cards s join loyalty.partners p on p.id = s.partner_id
             where p.status = 'approved'
             order by s.partner_id limit 50) s), '[]'::jsonb);
end
$$;

insert into loyalty.claimable_functions (name)
values ('set_stamp_card'), ('add_stamp'), ('stamp_cards')
on conflict do nothing;

do $$
declare
  f text;
begin
  foreach f in array array['set_stamp_card', 'add_stamp', 'stamp_cards'] loop
    execute format('revoke all on function loyalty.%I(jsonb) from public, anon, authenticated, service_role', f);
    execute format('grant execute on function loyalty.%I(jsonb) to service_role', f);
  end loop;
  foreach f in array array['_stamp_card_json(loyalty.stamp_cards)',
                           '_stamp_progress(loyalty.stamp_cards, bigint)'] loop
    execute format('revoke all on function loyalty.%s from public, anon, authenticated, service_role', f);
  end loop;
end
$$;
