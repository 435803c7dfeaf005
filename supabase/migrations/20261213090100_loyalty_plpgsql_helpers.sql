-- loyalty-rs storage: the hottest helpers in PL/pgSQL (after
-- 20261213090000_loyalty_carried_finishes). No behaviour changes.
--
-- A helper written in SQL with `set search_path = ''` is never inlined, and
-- PostgreSQL plans its body again on every call: benches/benches/pg_cpu.rs
-- measured _entry_json at 42–48 µs a call and _rules_version at 50 µs, the
-- same bodies in PL/pgSQL at about 10 and 8 µs (a session keeps a PL/pgSQL
-- function's plans). Each is restated here with the same result for every
-- input, the same volatility and the same `search_path` (so the functions
-- stay safe to call from the security-definer use cases): _customer_json,
-- _partner_json, _entry_json and _request_json (built on every answer that
-- carries a customer, a partner, an entry or a request) and _rules_version
-- (read by every ledger write's trigger and by the credit). `create or replace`
-- keeps their owners and privileges. Safe to run again.

create or replace function loyalty._customer_json(c loyalty.customers) returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
begin
  if c.id is null then
    return null;
  end if;
  return jsonb_build_object(
    'id', c.id,
    'telegram_id', c.telegram_id,
    'code', c.code,
    'first_name', c.first_name,
    'username', c.username,
    'language', c.language,
    'referrer', c.referrer,
    'balance', c.balance,
    'blocked', c.blocked,
    'created_at', c.created_at,
    'tier', c.tier);
end
$$;

create or replace function loyalty._partner_json(p loyalty.partners) returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p.id is null then
    return null;
  end if;
  return jsonb_build_object(
    'id', p.id,
    'telegram_id', p.telegram_id,
    'name', p.name,
    'category', p.category,
    'status', p.status,
    'terms', jsonb_build_object(
      'earn_rate_bps', p.earn_rate_bps,
      'max_redeem_share_bps', p.max_redeem_share_bps,
      'daily_credit_limit', p.daily_credit_limit),
    'language', p.language,
    'has_api_key', p.api_key_sha256 is not null,
    'created_at', p.created_at);
end
$$;

create or replace function loyalty._entry_json(e loyalty.entries) returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
begin
  if e.id is null then
    return null;
  end if;
  return jsonb_build_object(
    'id', e.id,
    'customer', e.customer_id,
    'kind', e.kind,
    'amount', e.amount,
    'partner', e.partner_id,
    'purchase', e.purchase,
    'idempotency_key', e.idempotency_key,
    'author', case when e.author_type = 'system' then jsonb_build_object('type', 'system')
                   else jsonb_build_object('type', e.author_type, 'id', e.author_id) end,
    'reverses', e.reverses,
    'reason', e.reason,
    'created_at', e.created_at,
    'rules_version', e.rules_version,
    'cashier', e.cashier);
end
$$;

create or replace function loyalty._request_json(r loyalty.redemption_requests) returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
begin
  return jsonb_build_object(
    'id', r.id,
    'customer', r.customer_id,
    'partner', r.partner_id,
    'points', r.points,
    'purchase', r.purchase,
    'status', r.status,
    'created_at', r.created_at,
    'expires_at', r.expires_at,
    'entry', r.entry_id,
    'cashier', r.cashier);
end
$$;

create or replace function loyalty._rules_version() returns integer
language plpgsql
stable
set search_path = ''
as $$
begin
  return (select coalesce(max(r.version), 0) from loyalty.rules r);
end
$$;
