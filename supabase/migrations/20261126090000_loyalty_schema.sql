-- loyalty-rs storage schema (1/2): tables, constraints, indexes, row level security.
--
-- Everything lives in the `loyalty` schema. The server never touches the tables
-- directly: it calls the functions of the next migration, one per use case, each
-- atomic. Times are Unix seconds (bigint), amounts integer points (bigint), ids
-- assigned by identity columns. Safe to run again: every statement is
-- `if not exists` / `or replace` or guarded.

create schema if not exists loyalty;

comment on schema loyalty is
  'loyalty-rs: customers, partners, the append-only points ledger. Use the functions, not the tables.';

-- Supabase has these roles; plain Postgres gets them so the grants below apply
-- everywhere. Created NOLOGIN: nobody signs in as them directly.
do $$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated', 'service_role'] loop
    if not exists (select 1 from pg_roles where rolname = r) then
      begin
        execute format('create role %I nologin', r);
      exception when duplicate_object or unique_violation then
        null; -- created concurrently by another session
      end;
    end if;
  end loop;
end
$$;

-- Migrations applied by `loyalty migrate` (PgStore::migrate). `supabase db push`
-- keeps its own record in supabase_migrations.schema_migrations instead.
create table if not exists loyalty.schema_migrations (
  version text primary key,
  name text not null,
  applied_at timestamptz not null default now()
);

create table if not exists loyalty.customers (
  id bigint generated always as identity primary key,
  telegram_id bigint not null,
  code text not null,
  first_name text not null,
  username text,
  language text not null,
  referrer bigint references loyalty.customers (id),
  balance bigint not null default 0,
  blocked boolean not null default false,
  created_at bigint not null,
  constraint customers_telegram_id_key unique (telegram_id),
  constraint customers_code_key unique (code),
  constraint customers_code_format check (code ~ '^[0-9A-HJKMNP-TV-Z]{8}$'),
  constraint customers_language_check check (language in ('ru', 'en', 'vi')),
  constraint customers_balance_check check (balance >= 0),
  constraint customers_no_self_referral check (referrer is distinct from id)
);

create table if not exists loyalty.partners (
  id bigint generated always as identity primary key,
  telegram_id bigint not null,
  name text not null,
  category text not null,
  status text not null default 'applied',
  earn_rate_bps bigint not null,
  max_redeem_share_bps bigint not null,
  daily_credit_limit bigint not null,
  language text not null,
  -- Lower-case hex SHA-256 of the POS API key; the key itself is never stored.
  api_key_sha256 text,
  created_at bigint not null,
  constraint partners_telegram_id_key unique (telegram_id),
  constraint partners_api_key_sha256_key unique (api_key_sha256),
  constraint partners_api_key_sha256_format check (api_key_sha256 ~ '^[0-9a-f]{64}$'),
  constraint partners_status_check check (status in ('applied', 'approved', 'rejected', 'suspended')),
  constraint partners_language_check check (language in ('ru', 'en', 'vi')),
  constraint partners_earn_rate_check check (earn_rate_bps between 0 and 4294967295),
  constraint partners_max_share_check check (max_redeem_share_bps between 0 and 4294967295)
);

-- The append-only ledger. A customer's balance is the sum of their entries.
create table if not exists loyalty.entries (
  id bigint generated always as identity primary key,
  customer_id bigint not null references loyalty.customers (id),
  kind text not null,
  amount bigint not null,
  partner_id bigint references loyalty.partners (id),
  purchase bigint,
  idempotency_key text not null,
  author_type text not null,
  author_id bigint,
  -- Unique: an entry is reversed at most once.
  reverses bigint references loyalty.entries (id),
  reason text,
  created_at bigint not null,
  constraint entries_idempotency_key_key unique (idempotency_key),
  constraint entries_reverses_key unique (reverses),
  constraint entries_kind_check check (
    kind in ('welcome_bonus', 'referral_bonus', 'accrual', 'redemption', 'reversal', 'adjustment')),
  constraint entries_author_check check (
    (author_type = 'system' and author_id is null)
    or (author_type in ('customer', 'partner', 'admin') and author_id is not null)),
  constraint entries_partner_kinds check (
    (kind in ('accrual', 'redemption', 'reversal')) = (partner_id is not null)),
  constraint entries_reversal_check check ((kind = 'reversal') = (reverses is not null)),
  constraint entries_sign_check check (
    case kind
      when 'welcome_bonus' then amount > 0
      when 'referral_bonus' then amount > 0
      when 'accrual' then amount >= 0
      when 'redemption' then amount < 0
      else amount <> 0 or kind = 'reversal'
    end)
);

create index if not exists entries_customer_id_idx on loyalty.entries (customer_id, id desc);
create index if not exists entries_partner_time_idx on loyalty.entries (partner_id, created_at)
  where partner_id is not null;
create index if not exists entries_created_at_idx on loyalty.entries (created_at);

-- Entries are never updated or deleted: corrections are new entries.
create or replace function loyalty.entries_append_only() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'loyalty.entries is append-only (% refused)', tg_op
    using errcode = 'restrict_violation';
end
$$;

create or replace trigger entries_append_only
  before update or delete on loyalty.entries
  for each row execute function loyalty.entries_append_only();

create or replace trigger entries_no_truncate
  before truncate on loyalty.entries
  for each statement execute function loyalty.entries_append_only();

create table if not exists loyalty.redemption_requests (
  id bigint generated always as identity primary key,
  idempotency_key text not null,
  customer_id bigint not null references loyalty.customers (id),
  partner_id bigint not null references loyalty.partners (id),
  points bigint not null,
  purchase bigint not null,
  status text not null default 'pending',
  created_at bigint not null,
  expires_at bigint not null,
  entry_id bigint references loyalty.entries (id),
  constraint redemption_requests_idempotency_key_key unique (idempotency_key),
  constraint redemption_requests_entry_id_key unique (entry_id),
  constraint redemption_requests_points_check check (points > 0 and purchase > 0),
  constraint redemption_requests_status_check check (status in ('pending', 'confirmed', 'declined', 'expired')),
  constraint redemption_requests_entry_check check ((status = 'confirmed') = (entry_id is not null))
);

create index if not exists redemption_requests_pending_idx on loyalty.redemption_requests (expires_at)
  where status = 'pending';

-- Telegram updates claimed for processing (deduplication of webhook retries).
create table if not exists loyalty.processed_updates (
  bot text not null,
  update_id bigint not null,
  claimed_at bigint not null,
  primary key (bot, update_id),
  constraint processed_updates_bot_check check (bot in ('client', 'partner', 'admin', 'alerts'))
);

create table if not exists loyalty.quotas (
  kind text not null,
  telegram_id bigint not null,
  day bigint not null,
  used bigint not null default 0,
  primary key (kind, telegram_id, day),
  constraint quotas_used_check check (used >= 0)
);

create table if not exists loyalty.broadcast_jobs (
  id bigint generated always as identity primary key,
  idempotency_key text not null,
  audience text not null,
  text text not null,
  admin_chat bigint not null,
  total bigint not null,
  sent bigint not null default 0,
  failed bigint not null default 0,
  cursor bigint not null default 0,
  done boolean not null default false,
  created_at bigint not null,
  constraint broadcast_jobs_idempotency_key_key unique (idempotency_key),
  constraint broadcast_jobs_audience_check check (audience in ('customers', 'partners')),
  constraint broadcast_jobs_counters_check check (
    total between 0 and 4294967295 and sent between 0 and 4294967295 and failed between 0 and 4294967295)
);

create index if not exists broadcast_jobs_pending_idx on loyalty.broadcast_jobs (id) where not done;

-- Admin actions: adjustments, blocks, partner decisions.
create table if not exists loyalty.audit_log (
  id bigint generated always as identity primary key,
  admin bigint not null,
  action text not null,
  customer_id bigint references loyalty.customers (id),
  partner_id bigint references loyalty.partners (id),
  entry_id bigint references loyalty.entries (id),
  details jsonb not null default '{}'::jsonb,
  at bigint not null,
  constraint audit_log_action_check check (action in ('adjusted', 'blocked', 'partner_decided'))
);

create index if not exists audit_log_at_idx on loyalty.audit_log (at);

-- Row level security on every table, with no policies: the Data API roles
-- (anon, authenticated) see nothing even if a grant slipped in. The functions run
-- as their owner (security definer), which is not subject to these policies.
alter table loyalty.schema_migrations enable row level security;
alter table loyalty.customers enable row level security;
alter table loyalty.partners enable row level security;
alter table loyalty.entries enable row level security;
alter table loyalty.redemption_requests enable row level security;
alter table loyalty.processed_updates enable row level security;
alter table loyalty.quotas enable row level security;
alter table loyalty.broadcast_jobs enable row level security;
alter table loyalty.audit_log enable row level security;

revoke all on schema loyalty from public, anon, authenticated;
revoke all on all tables in schema loyalty from public, anon, authenticated, service_role;
revoke all on all sequences in schema loyalty from public, anon, authenticated, service_role;
revoke all on all functions in schema loyalty from public, anon, authenticated, service_role;
alter default privileges in schema loyalty revoke all on tables from public, anon, authenticated;
alter default privileges in schema loyalty revoke all on sequences from public, anon, authenticated;
alter default privileges in schema loyalty revoke execute on functions from public, anon, authenticated;
