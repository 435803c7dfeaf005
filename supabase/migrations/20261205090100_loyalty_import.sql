-- loyalty-rs storage schema, migration 6: imports from another system (Storage::import_batch).
--
-- `loyalty import legacy` brings customers, partners and their history from the
-- Python program's tables in batches of whole customers. The rule is documented
-- in loyalty-core/src/ports/import.rs; loyalty_core::MemoryStore is the
-- reference. Two new kinds of ledger entries:
--
-- - 'import': a balance brought over (the opening balance of an imported
--   customer, or the change of that balance seen by a later run). Counted in
--   the balance like every other kind; amount <> 0; no partner.
-- - 'legacy': a record of the other system's history. NOT counted in the
--   balance; any amount, 0 included; partner and purchase optional.
--
-- Keys starting with 'import:' are derived by the store, so callers may no
-- longer supply them (loyalty._check_key). Safe to run again.

-- ---------------------------------------------------------------------------
-- Entries: the two kinds

alter table loyalty.entries
  drop constraint if exists entries_kind_check,
  drop constraint if exists entries_partner_kinds,
  drop constraint if exists entries_sign_check,
  drop constraint if exists entries_import_author;

alter table loyalty.entries
  add constraint entries_kind_check check (
    kind in ('welcome_bonus', 'referral_bonus', 'accrual', 'redemption', 'reversal', 'adjustment',
             'import', 'legacy')),
  -- A legacy entry names the partner of the other system's operation when it is ours, else none.
  add constraint entries_partner_kinds check (
    kind = 'legacy' or (kind in ('accrual', 'redemption', 'reversal')) = (partner_id is not null)),
  add constraint entries_sign_check check (
    case kind
      when 'welcome_bonus' then amount > 0
      when 'referral_bonus' then amount > 0
      when 'accrual' then amount >= 0
      when 'redemption' then amount < 0
      when 'legacy' then true
      else amount <> 0 or kind = 'reversal'
    end),
  add constraint entries_import_author check (kind not in ('import', 'legacy') or author_type = 'system');

-- ---------------------------------------------------------------------------
-- What an import remembers of each customer it created

create table if not exists loyalty.imports (
  source text not null,
  telegram_id bigint not null,
  -- A customer is created by one import at most.
  customer_id bigint not null references loyalty.customers (id),
  -- The other system's balance as of the last change applied here.
  balance bigint not null,
  -- The customer's referral code in the other system: its `ref_<code>` links keep working.
  referral_code text,
  birthday text,
  imported_at bigint not null,
  primary key (source, telegram_id),
  constraint imports_customer_id_key unique (customer_id),
  constraint imports_balance_check check (balance >= 0)
);

-- By referral code: the `ref_<code>` links the other system printed (register_customer).
create index if not exists imports_referral_code_idx on loyalty.imports (referral_code)
  where referral_code is not null;

alter table loyalty.imports enable row level security;
revoke all on loyalty.imports from public, anon, authenticated, service_role;

-- ---------------------------------------------------------------------------
-- Reserved key prefixes: 'import:' joins 'welcome:', 'referral:' and 'redemption:'

create or replace function loyalty._check_key(p_key text) returns void
language plpgsql
set search_path = ''
as $$
begin
  if p_key is null then
    raise exception 'loyalty: missing idempotency key';
  end if;
  if starts_with(p_key, 'welcome:') or starts_with(p_key, 'referral:') or starts_with(p_key, 'redemption:')
     or starts_with(p_key, 'import:') then
    perform loyalty._reject('idempotency_conflict');
  end if;
end
$$;

-- ---------------------------------------------------------------------------
-- The use case

-- req: the serde JSON of ImportBatch; returns the serde JSON of ImportApplied.
--
-- Set-based: each step is one statement over the batch's arrays, so a batch of
-- hundreds of customers with thousands of history items stays one quick call.
-- Entry ids follow the reference's order: the opening balances, then the
-- balance changes, then the new history items, each in batch order.
--
-- Concurrency: imports of one source run one at a time (advisory lock in
-- namespace 4 on the source). Lock order as everywhere: partners (the ones the
-- history names, FOR KEY SHARE), then customers (the batch's customers
-- imported from the source, FOR UPDATE, by id), so a balance change is decided
-- on the balance as it is. A customer signing up in the bots meanwhile is left
-- alone as already ours; a code taken meanwhile is code_taken.
create or replace function loyalty.import_batch(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_source text := req->>'source';
  v_now bigint := (req->>'now')::bigint;
  v_max constant numeric := 1000000000000; -- ImportBatch::MAX_POINTS
  v_constraint text;
  v_new bigint[];
  v_partners_created bigint;
  v_balances_changed bigint;
  v_history_created bigint;
  v_refused jsonb;
  v_counted bigint;
  v_moved bigint;
begin
  -- ImportBatch::check.
  if not coalesce(v_source ~ '^[a-z0-9_-]{1,32}$', false)
     or jsonb_typeof(req->'partners') is distinct from 'array'
     or jsonb_typeof(req->'customers') is distinct from 'array'
     or exists (
       select 1 from jsonb_array_elements(req->'partners') p
        where not coalesce(char_length(p->>'name') between 1 and 256
                           and char_length(p->>'category') between 1 and 256, false))
     or exists (
       select 1 from jsonb_array_elements(req->'partners') p
        group by (p->>'telegram_id')::bigint having count(*) > 1)
     or exists (
       select 1 from jsonb_array_elements(req->'customers') c
        where not coalesce(char_length(c->>'first_name') between 1 and 256
                           and (c->>'balance')::numeric between 0 and v_max
                           and (c->>'referral_code' is null or octet_length(c->>'referral_code') between 1 and 64)
                           and (c->>'birthday' is null or octet_length(c->>'birthday') = 10)
                           and jsonb_typeof(c->'history') = 'array', false))
     or exists (
       select 1 from jsonb_array_elements(req->'customers') c
        group by (c->>'telegram_id')::bigint having count(*) > 1)
     or exists (
       select 1 from jsonb_array_elements(req->'customers') c, jsonb_array_elements(c->'history') h
        where not coalesce(octet_length(h->>'source_id') between 1 and 64
                           and (h->>'amount')::numeric between -v_max and v_max
                           and (h->>'purchase' is null or (h->>'purchase')::numeric between -v_max and v_max)
                           and (h->>'note' is null or char_length(h->>'note') <= 1024), false))
     or exists (
       select 1 from jsonb_array_elements(req->'customers') c, jsonb_array_elements(c->'history') h
        group by h->>'source_id' having count(*) > 1)
  then
    perform loyalty._reject('invalid_import');
  end if;

  perform loyalty._lock_key(4, v_source);

  -- The codes of the customers to create: free, and not twice. Checked before any change.
  if exists (
    with fresh as (
      select c->>'code' as code
        from jsonb_array_elements(req->'customers') c
       where not exists (select 1 from loyalty.customers x where x.telegram_id = (c->>'telegram_id')::bigint)
    )
    select 1 from fresh where exists (select 1 from loyalty.customers x where x.code = fresh.code)
    union all
    select 1 from fresh group by fresh.code having count(*) > 1
  ) then
    perform loyalty._reject('code_taken');
  end if;

  -- 1. Partners with a new Telegram id, in batch order.
  insert into loyalty.partners (telegram_id, name, category, status, earn_rate_bps, max_redeem_share_bps,
                                daily_credit_limit, language, created_at)
  select (b.p->>'telegram_id')::bigint, b.p->>'name', b.p->>'category', b.p->>'status',
         (b.p#>>'{terms,earn_rate_bps}')::bigint, (b.p#>>'{terms,max_redeem_share_bps}')::bigint,
         (b.p#>>'{terms,daily_credit_limit}')::bigint, b.p->>'language', (b.p->>'created_at')::bigint
    from jsonb_array_elements(req->'partners') with ordinality b(p, ord)
   where not exists (select 1 from loyalty.partners x where x.telegram_id = (b.p->>'telegram_id')::bigint)
   order by b.ord
  on conflict (telegram_id) do nothing;
  get diagnostics v_partners_created = row_count;

  -- 2. Customers with a new Telegram id, in batch order, remembered as imported from the source.
  begin
    with created as (
      insert into loyalty.customers (telegram_id, code, first_name, username, language, created_at)
      select (b.c->>'telegram_id')::bigint, b.c->>'code', b.c->>'first_name', b.c->>'username',
             b.c->>'language', (b.c->>'created_at')::bigint
        from jsonb_array_elements(req->'customers') with ordinality b(c, ord)
       where not exists (select 1 from loyalty.customers x where x.telegram_id = (b.c->>'telegram_id')::bigint)
       order by b.ord
      on conflict (telegram_id) do nothing
      returning id, telegram_id
    ),
    remembered as (
      insert into loyalty.imports (source, telegram_id, customer_id, balance, referral_code, birthday, imported_at)
      select v_source, created.telegram_id, created.id, (b.c->>'balance')::bigint, b.c->>'referral_code',
             b.c->>'birthday', v_now
        from created
        join jsonb_array_elements(req->'customers') b(c) on (b.c->>'telegram_id')::bigint = created.telegram_id
    )
    select coalesce(array_agg(created.telegram_id), '{}') into v_new from created;
  exception when unique_violation then
    get stacked diagnostics v_constraint = constraint_name;
    if v_constraint = 'customers_code_key' then
      perform loyalty._reject('code_taken'); -- taken by a sign-up meanwhile
    end if;
    raise;
  end;

  -- Locks before the balances are read: partners, then customers.
  perform 1
     from loyalty.partners p
    where p.telegram_id in (select (h->>'partner')::bigint
                              from jsonb_array_elements(req->'customers') c, jsonb_array_elements(c->'history') h)
    order by p.id
      for key share;
  perform 1
     from loyalty.customers x
    where x.id in (select i.customer_id
                     from jsonb_array_elements(req->'customers') c
                     join loyalty.imports i on i.source = v_source and i.telegram_id = (c->>'telegram_id')::bigint)
    order by x.id
      for update;

  -- Referrers of the created customers: another customer, by Telegram id.
  update loyalty.customers x
     set referrer = r.id
    from jsonb_array_elements(req->'customers') b(c)
    join loyalty.customers r on r.telegram_id = (b.c->>'referrer')::bigint
   where x.telegram_id = (b.c->>'telegram_id')::bigint
     and x.telegram_id = any (v_new)
     and r.id <> x.id;

  -- 3.–5. Opening balances, balance changes, history: one insert, in the reference's order;
  -- the balances move by the counted ('import') entries inserted.
  with batch as materialized (
    select b.ord, (b.c->>'telegram_id')::bigint as tg, (b.c->>'balance')::bigint as balance, b.c
      from jsonb_array_elements(req->'customers') with ordinality b(c, ord)
  ),
  changes as materialized (
    select b.ord, b.tg, i.customer_id, b.balance - i.balance as change, x.balance as current,
           x.balance::numeric + b.balance - i.balance >= 0 as applies,
           (select count(*) from loyalty.entries e where e.customer_id = i.customer_id and e.kind = 'import') as n
      from batch b
      join loyalty.imports i on i.source = v_source and i.telegram_id = b.tg
      join loyalty.customers x on x.id = i.customer_id
     where b.balance <> i.balance
  ),
  drafts as (
    select 0 as phase, b.ord, 0::bigint as sub, x.id as customer_id, 'import' as kind, b.balance as amount,
           null::bigint as partner_id, null::bigint as purchase, 'import:' || v_source || ':' || b.tg as key,
           null::text as reason, v_now as at
      from batch b
      join loyalty.customers x on x.telegram_id = b.tg
     where b.tg = any (v_new) and b.balance > 0
    union all
    select 1, ch.ord, 0, ch.customer_id, 'import', ch.change, null, null,
           'import:' || v_source || ':' || ch.tg || ':' || ch.n, null, v_now
      from changes ch
     where ch.applies
    union all
    select 2, b.ord, h.ord, i.customer_id, 'legacy', (h.h->>'amount')::bigint, p.id, (h.h->>'purchase')::bigint,
           'import:' || v_source || ':tx:' || (h.h->>'source_id'), h.h->>'note', (h.h->>'at')::bigint
      from batch b
      join loyalty.imports i on i.source = v_source and i.telegram_id = b.tg
     cross join lateral jsonb_array_elements(b.c->'history') with ordinality h(h, ord)
      left join loyalty.partners p on p.telegram_id = (h.h->>'partner')::bigint
     where not exists (select 1 from loyalty.entries e
                        where e.idempotency_key = 'import:' || v_source || ':tx:' || (h.h->>'source_id'))
  ),
  inserted as (
    insert into loyalty.entries (customer_id, kind, amount, partner_id, purchase, idempotency_key,
                                 author_type, author_id, reverses, reason, created_at)
    select d.customer_id, d.kind, d.amount, d.partner_id, d.purchase, d.key, 'system', null, null, d.reason, d.at
      from drafts d
     order by d.phase, d.ord, d.sub
    returning customer_id, kind, amount
  ),
  moved as (
    update loyalty.customers x
       set balance = x.balance + e.amount
      from inserted e
     where e.kind = 'import'
       and x.id = e.customer_id
       and x.balance::numeric + e.amount between 0 and 9223372036854775807
    returning x.id
  ),
  followed as (
    update loyalty.imports i
       set balance = i.balance + ch.change
      from changes ch
     where ch.applies and i.source = v_source and i.telegram_id = ch.tg
  )
  select (select count(*) from changes ch where ch.applies),
         (select count(*) from inserted e where e.kind = 'legacy'),
         (select coalesce(jsonb_agg(jsonb_build_object('telegram_id', ch.tg, 'change', ch.change,
                                                       'balance', ch.current) order by ch.ord), '[]'::jsonb)
            from changes ch where not ch.applies),
         (select count(*) from inserted e where e.kind = 'import'),
         (select count(*) from moved)
    into v_balances_changed, v_history_created, v_refused, v_counted, v_moved;
  if v_moved <> v_counted then
    -- The customers are locked, so only a balance past the bigint range gets here.
    perform loyalty._reject('invalid_amount');
  end if;

  -- 6. and the answer: every batch customer's balance now, in batch order.
  return (
    with batch as materialized (
      select b.ord, (b.c->>'telegram_id')::bigint as tg
        from jsonb_array_elements(req->'customers') with ordinality b(c, ord)
    )
    select jsonb_build_object(
      'partners_created', v_partners_created,
      'customers_created', cardinality(v_new),
      'balances_changed', v_balances_changed,
      'history_created', v_history_created,
      'not_imported', coalesce((
        select jsonb_agg(b.tg order by b.ord)
          from batch b
         where not exists (select 1 from loyalty.imports i where i.source = v_source and i.telegram_id = b.tg)),
        '[]'::jsonb),
      'refused', v_refused,
      'balances', coalesce((
        select jsonb_agg(jsonb_build_object('telegram_id', b.tg, 'balance', x.balance) order by b.ord)
          from batch b
          join loyalty.customers x on x.telegram_id = b.tg), '[]'::jsonb)));
end
$$;

revoke all on function loyalty.import_batch(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.import_batch(jsonb) to service_role;
comment on function loyalty.import_batch(jsonb) is
  'loyalty-rs Storage::import_batch: jsonb request in, jsonb response out; atomic; see docs/SUPABASE.md';

-- ---------------------------------------------------------------------------
-- Sign-up through the other system's `ref_<code>` links (NewCustomer::legacy_referrer).

create or replace function loyalty.register_customer(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_tg bigint := (req->>'telegram_id')::bigint;
  v_code text := req->>'code';
  v_welcome bigint := (req->>'welcome_bonus')::bigint;
  v_referral bigint := (req->>'referral_bonus')::bigint;
  v_now bigint := (req->>'now')::bigint;
  v_customer loyalty.customers;
  v_referrer bigint;
  v_welcome_entry loyalty.entries;
  v_referral_entry loyalty.entries;
begin
  if v_welcome not between 0 and 1000000000 or v_referral not between 0 and 1000000000 then
    perform loyalty._reject('invalid_amount');
  end if;
  select * into v_customer from loyalty.customers c where c.telegram_id = v_tg;
  if found then
    return jsonb_build_object('customer', loyalty._customer_json(v_customer), 'created', false,
                              'welcome', null, 'referral', null);
  end if;
  if exists (select 1 from loyalty.customers c where c.code = v_code) then
    perform loyalty._reject('code_taken');
  end if;
  if req->>'referrer' is not null and req->>'referrer' <> v_code then
    select c.id into v_referrer from loyalty.customers c where c.code = req->>'referrer' and not c.blocked;
  end if;
  -- A `ref_<code>` link of the program imported from: the imported customer owning the code.
  if v_referrer is null and req->>'legacy_referrer' is not null then
    select c.id into v_referrer
      from loyalty.imports i join loyalty.customers c on c.id = i.customer_id
     where i.referral_code = req->>'legacy_referrer' and not c.blocked and c.code <> v_code
     order by c.id
     limit 1;
  end if;
  begin
    insert into loyalty.customers (telegram_id, code, first_name, username, language, referrer, created_at)
    values (v_tg, v_code, req->>'first_name', req->>'username', req->>'language', v_referrer, v_now)
    on conflict (telegram_id) do nothing
    returning * into v_customer;
  exception when unique_violation then
    -- The code was taken meanwhile, or the same user signed up concurrently.
    v_customer := null;
  end;
  if v_customer.id is null then
    select * into v_customer from loyalty.customers c where c.telegram_id = v_tg;
    if found then
      return jsonb_build_object('customer', loyalty._customer_json(v_customer), 'created', false,
                                'welcome', null, 'referral', null);
    end if;
    perform loyalty._reject('code_taken');
  end if;
  if v_welcome > 0 then
    v_welcome_entry := loyalty._append(v_customer.id, 'welcome_bonus', v_welcome, null, null,
      'welcome:' || v_customer.id, 'system', null, null, null, v_now);
  end if;
  if v_referrer is not null and v_referral > 0 then
    v_referral_entry := loyalty._append(v_referrer, 'referral_bonus', v_referral, null, null,
      'referral:' || v_customer.id, 'system', null, null, null, v_now);
  end if;
  return jsonb_build_object(
    'customer', loyalty._customer_now(v_customer.id),
    'created', true,
    'welcome', loyalty._entry_json(v_welcome_entry),
    'referral', case when v_referral_entry.id is null then null
                     else jsonb_build_array(loyalty._customer_now(v_referrer),
                                            loyalty._entry_json(v_referral_entry)) end);
end
$$;

revoke all on function loyalty.register_customer(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.register_customer(jsonb) to service_role;
