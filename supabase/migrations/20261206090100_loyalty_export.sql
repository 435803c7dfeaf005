-- The way back: a page of customers, each with the entries made here (not those
-- an import brought), for `loyalty export legacy`.

create or replace function loyalty.export_customers(req jsonb) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_limit bigint := (req->>'limit')::bigint;
begin
  if v_limit is null or v_limit not between 1 and 1000 then
    perform loyalty._reject('invalid_amount');
  end if;
  return coalesce((
    select jsonb_agg(jsonb_build_object(
             'customer', loyalty._customer_json(page.c),
             'entries', coalesce((select jsonb_agg(loyalty._entry_json(e) order by e.id)
                                    from loyalty.entries e
                                   where e.customer_id = (page.c).id and e.kind not in ('import', 'legacy')),
                                 '[]'::jsonb))
           order by (page.c).id)
      from (select c from loyalty.customers c
             where c.id > coalesce((req->>'after')::bigint, 0)
             order by c.id
             limit v_limit) page), '[]'::jsonb);
end
$$;

revoke all on function loyalty.export_customers(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.export_customers(jsonb) to service_role;
