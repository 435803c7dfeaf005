-- loyalty-rs storage: daily figures for charts (after 20261212090300_loyalty_webhook_keys).
--
-- daily_figures answers, for `days` days from `from` (a UTC day's start; day
-- i is [from + i * 86400, from + (i + 1) * 86400)), one row per day, oldest
-- first: {"day", "issued", "redeemed"} (DayFigures), zeros for a day without
-- entries. The figures are those of _period_stats (partner_stats,
-- program_stats) per day: `issued` sums the accruals created that day that
-- are not reversed, `redeemed` minus the redemptions created that day that
-- are not reversed (confirmed requests, rewards' vouchers paid); a reversal
-- takes its original out of the original's day, whenever it came, and counts
-- on no day itself. Each sum is capped at 2^63 - 1.
--
-- The scope is a partner's ({"kind": "partner", "partner": <PartnerRef>}: an
-- owner's reference, any status; a till's is unknown_partner, as
-- loyalty._partner_id answers no partner for it) or the program's
-- ({"kind": "program"}): every partner's accruals and redemptions, as
-- program_stats' `today` counts them — welcome and referral bonuses,
-- adjustments, imports and expiries have no partner and count on no day.
--
-- Checked in order: `days` outside 1..=92 (storage::MAX_FIGURE_DAYS) is
-- invalid_amount, never clamped; then unknown_partner. One statement reads
-- the days' entries through entries_partner_time_idx (partner_id,
-- created_at) or entries_created_at_idx (created_at), both of
-- 20261126090000_loyalty_schema, and entries_reverses_key for the reversals:
-- no new index. The model store (loyalty_core::stores::memory) and the
-- SQLite statements (DAILY_FIGURES) are the other homes of the rule. Safe to
-- run again.

-- req: DailyFigures ({"scope", "from", "days"}); [DayFigures], one per day, oldest first.
create or replace function loyalty.daily_figures(req jsonb) returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_max constant bigint := 92; -- storage::MAX_FIGURE_DAYS
  v_days bigint := (req->>'days')::bigint;
  v_from bigint := (req->>'from')::bigint;
  v_partner bigint;
begin
  if v_days is null or v_days not between 1 and v_max then
    perform loyalty._reject('invalid_amount');
  end if;
  case req#>>'{scope,kind}'
    when 'program' then
      v_partner := null;
    when 'partner' then
      v_partner := loyalty._partner_id(req#>'{scope,partner}');
      if v_partner is null then
        perform loyalty._reject('unknown_partner');
      end if;
    else
      raise exception 'loyalty: malformed figures scope %', req->'scope';
  end case;
  -- Planned with the values (PL/pgSQL's custom plans): a partner's reads its
  -- index, the program's the index of every entry by time.
  return (
    select jsonb_agg(jsonb_build_object('day', d.day, 'issued', coalesce(f.issued, 0),
                                        'redeemed', coalesce(f.redeemed, 0)) order by d.i)
      from (select i, v_from + i * 86400 as day from generate_series(0::bigint, v_days - 1) i) d
      left join (
        select (e.created_at - v_from) / 86400 as i,
               least(coalesce(sum(e.amount) filter (where e.kind = 'accrual'), 0), 9223372036854775807)
                 as issued,
               least(coalesce(-sum(e.amount) filter (where e.kind = 'redemption'), 0), 9223372036854775807)
                 as redeemed
          from loyalty.entries e
         where e.created_at >= v_from
           and e.created_at < v_from + v_days * 86400
           and e.kind in ('accrual', 'redemption')
           and (v_partner is null or e.partner_id = v_partner)
           and not exists (select 1 from loyalty.entries r where r.reverses = e.id)
         group by 1) f on f.i = d.i);
end
$$;

insert into loyalty.claimable_functions (name) values ('daily_figures') on conflict do nothing;

revoke all on function loyalty.daily_figures(jsonb) from public, anon, authenticated, service_role;
grant execute on function loyalty.daily_figures(jsonb) to service_role;
