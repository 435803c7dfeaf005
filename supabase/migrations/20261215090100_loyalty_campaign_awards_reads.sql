-- loyalty-rs storage: a credit reads the customer's visits and birthday only for campaigns that use
-- them (after 20261215090000_loyalty_plpgsql_path_helpers). No behaviour changes.
--
-- loyalty._campaign_awards counted the customer's accruals at the partner (for first-purchase and
-- n-th-visit campaigns) and read the customer's birthday on every credit, whether or not any such
-- campaign was running, and the count grows with the customer's history (benches/benches/pg_cpu.rs:
-- 229 µs of a credit's 1.2 ms for a customer with a thousand visits). Restated here with the count
-- moved into the campaigns' query, where PostgreSQL evaluates it (once) only when a campaign of those
-- kinds reaches that test, and the birthday read when the first birthday campaign reaches its branch;
-- every other line is as in 20261207100000_loyalty_campaigns, and so every answer. The SQLite
-- statements (CAMPAIGN_AWARDS) already count only for the campaigns that qualify. Safe to run again.

create or replace function loyalty._campaign_awards(
  p_customer bigint, p_partner bigint, p_tier integer, p_accrual bigint, p_now bigint
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_birthday loyalty.birthdays;
  v_multiplied boolean := false;
  v_awards jsonb := '[]'::jsonb;
  v_birthday_read boolean := false;
  o record;
begin
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
       -- The customer's visits at the partner: counted (once, in this statement) only when a
       -- first-purchase or n-th-visit campaign gets this far.
       and case d.kind
             when 'first_purchase' then (select count(*) from loyalty.entries e
                                          where e.customer_id = p_customer and e.partner_id = p_partner
                                            and e.kind = 'accrual') = 0
             when 'nth_visit' then mod((select count(*) from loyalty.entries e
                                         where e.customer_id = p_customer and e.partner_id = p_partner
                                           and e.kind = 'accrual') + 1, d.nth) = 0
             else true end
     order by d.kind <> 'multiplier', d.pts desc, d.id
  loop
    if o.kind = 'multiplier' and v_multiplied then
      continue;
    end if;
    if o.kind = 'birthday' and not v_birthday_read then
      select * into v_birthday from loyalty.birthdays b where b.customer_id = p_customer;
      v_birthday_read := true;
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

