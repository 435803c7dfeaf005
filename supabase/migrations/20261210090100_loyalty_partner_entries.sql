-- loyalty-rs storage schema: a partner's entries, page by page (its POS's
-- statement). The model store (loyalty_core::stores::memory) and the SQLite
-- statements (PARTNER_ENTRIES) are the other homes of the rule. Safe to run
-- again.

create index if not exists entries_partner_id_idx on loyalty.entries (partner_id, id) where partner_id is not null;

-- req: PartnerEntriesPage; the partner's entries older than `before`, newest first.
create or replace function loyalty.partner_entries(req jsonb) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_limit bigint := (req->>'limit')::bigint;
  v_partner bigint := loyalty._partner_id(req->'partner');
begin
  if v_limit is null or v_limit not between 1 and 100 then
    perform loyalty._reject('invalid_amount');
  end if;
  if v_partner is null then
    perform loyalty._reject('unknown_partner');
  end if;
  return coalesce((
    select jsonb_agg(loyalty._entry_json(e) order by e.id desc)
      from (select * from loyalty.entries e
             where e.partner_id = v_partner and e.id < coalesce((req->>'before')::bigint, 9223372036854775807)
             order by e.id desc limit v_limit) e), '[]'::jsonb);
end
$$;

insert into loyalty.claimable_functions (name) values ('partner_entries') on conflict do nothing;

revoke all on function loyalty.partner_entries(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.partner_entries(jsonb) to service_role;
