-- The scheduled jobs' states (loyalty_core::ports::Storage::swap_job_state):
-- what a job saw last, kept under its name, e.g. the webhook watchdog's
-- `webhook:client`. The model store's swap_job_state and the SQLite
-- statement SWAP_JOB_STATE are the other homes of the same rule.

create table if not exists loyalty.job_state (
  name text primary key,
  value text not null,
  updated_at bigint not null
);

alter table loyalty.job_state enable row level security;
revoke all on loyalty.job_state from public, anon, authenticated, service_role;

-- Records req.value under req.name and returns the state it replaces
-- ({"value", "updated_at"}, or null the first time). The row is locked, so
-- concurrent swaps are ordered and each sees the previous one.
create or replace function loyalty.swap_job_state(req jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_name text := req->>'name';
  v_value text := req->>'value';
  v_before jsonb;
begin
  if v_name is null or char_length(v_name) not between 1 and 100
     or v_value is null or octet_length(v_value) > 1000 then
    raise exception using errcode = 'LY001', message = '{"code":"invalid_amount"}';
  end if;
  -- The first swap inserts; a concurrent first swap waits for it, inserts nothing and swaps after it.
  insert into loyalty.job_state (name, value, updated_at)
  values (v_name, v_value, (req->>'now')::bigint)
  on conflict (name) do nothing;
  if found then
    return 'null'::jsonb;
  end if;
  select jsonb_build_object('value', s.value, 'updated_at', s.updated_at)
    into v_before
    from loyalty.job_state s
   where s.name = v_name
     for update;
  update loyalty.job_state s
     set value = v_value, updated_at = (req->>'now')::bigint
   where s.name = v_name;
  return v_before;
end
$$;

revoke all on function loyalty.swap_job_state(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.swap_job_state(jsonb) to service_role;
