-- loyalty-rs storage schema: the program's data, page by page (`loyalty
-- export data`): customers, partners or entries by id. The model store and the
-- SQLite statements (EXPORT_PAGE) are the other homes of the rule. Safe to run
-- again.

-- req: ExportPage; ExportRows ({"customers": […]}, {"partners": […]} or {"entries": […]}).
create or replace function loyalty.export_page(req jsonb) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_limit bigint := (req->>'limit')::bigint;
  v_after bigint := (req->>'after')::bigint;
begin
  if v_limit is null or v_limit not between 1 and 1000 or v_after is null then
    perform loyalty._reject('invalid_amount');
  end if;
  case req->>'table'
    when 'customers' then
      return jsonb_build_object('customers', coalesce((
        select jsonb_agg(loyalty._customer_json(c) order by c.id)
          from (select * from loyalty.customers c where c.id > v_after order by c.id limit v_limit) c), '[]'::jsonb));
    when 'partners' then
      return jsonb_build_object('partners', coalesce((
        select jsonb_agg(loyalty._partner_json(p) order by p.id)
          from (select * from loyalty.partners p where p.id > v_after order by p.id limit v_limit) p), '[]'::jsonb));
    when 'entries' then
      return jsonb_build_object('entries', coalesce((
        select jsonb_agg(loyalty._entry_json(e) order by e.id)
          from (select * from loyalty.entries e where e.id > v_after order by e.id limit v_limit) e), '[]'::jsonb));
    else
      raise exception 'loyalty: unknown export table %', coalesce(req->>'table', 'null');
  end case;
end
$$;

insert into loyalty.claimable_functions (name) values ('export_page') on conflict do nothing;

revoke all on function loyalty.export_page(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.export_page(jsonb) to service_role;
