// The admin's figures (opened from the admin bot): the program now, its liability, and 30 days of points.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, type Schemas } from "./api";
import { Chart } from "./chart";
import { ErrorLine, useI18n } from "./ui";

export function Admin() {
  const i = useI18n();
  const [figures, setFigures] = useState<Schemas["ProgramFigures"] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api<Schemas["ProgramFigures"]>("/admin/figures?days=30").then(setFigures, setError);
  }, []);

  const p = figures?.program;
  const values = p && {
    customers: i.num(p.customers),
    partners_approved: i.num(p.partners_approved),
    partners_pending: i.num(p.partners_pending),
    outstanding_pts: (
      <b class="big" data-testid="admin-liability">
        {i.num(p.points_outstanding)}
      </b>
    ),
    expiring_30_pts: i.num(p.expiring_30_days),
    expiring_90_pts: i.num(p.expiring_90_days),
    today_customers: i.num(p.today.customers),
    today_purchases: i.num(p.today.purchases),
    today_issued_pts: i.num(p.today.issued),
    today_redeemed_pts: i.num(p.today.redeemed),
  };
  return (
    <div class="app">
      <main>
        <section data-testid="screen-admin" class="screen">
          {values && (
            <div class="stats">
              {i.t.program_stats.split("\n").map((line, n) =>
                line.trim() === "" ? null : n === 0 || !line.includes("{") ? (
                  <h2 key={n}>{line}</h2>
                ) : (
                  <p key={n}>{fill(line, values)}</p>
                ),
              )}
            </div>
          )}
          {figures && <Chart days={figures.days} />}
          <ErrorLine error={error} />
        </section>
      </main>
    </div>
  );
}

/** One line of a template with its `{name}` placeholders filled. */
function fill(line: string, values: Record<string, unknown>) {
  return line.split(/(\{[a-z0-9_]+\})/).map((part) => {
    const m = /^\{([a-z0-9_]+)\}$/.exec(part);
    return m && m[1] in values ? (values[m[1]] as ComponentChildren) : part;
  });
}
