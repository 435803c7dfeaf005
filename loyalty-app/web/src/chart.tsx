// Points issued and redeemed day by day, drawn as SVG bars (no chart library).
import type { Schemas } from "./api";
import { useI18n } from "./ui";

type Day = Schemas["DayFigures"];

const W = 320;
const H = 140;
const PAD_TOP = 14;
const PAD_BOTTOM = 18;

/** Two bars a day, issued and redeemed, oldest left, today right. */
export function Chart({ days }: { days: Day[] }) {
  const i = useI18n();
  const max = Math.max(1, ...days.map((d) => Math.max(d.issued, d.redeemed)));
  const slot = W / Math.max(1, days.length);
  const bar = Math.max(1, slot / 2 - 1);
  const plot = H - PAD_TOP - PAD_BOTTOM;
  const y = (v: number) => PAD_TOP + plot - (Math.max(0, v) / max) * plot;
  const first = days[0];
  const last = days[days.length - 1];
  return (
    <figure class="chart" data-testid="figures-chart">
      <figcaption>{i.s("last_30_days")}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={i.s("last_30_days")}>
        <line class="axis" x1="0" x2={W} y1={PAD_TOP + plot} y2={PAD_TOP + plot} />
        <text class="tick" x="0" y="10">
          {i.num(max)}
        </text>
        {days.map((d, n) => (
          <g key={d.day}>
            <rect class="issued" x={n * slot + 0.5} y={y(d.issued)} width={bar} height={PAD_TOP + plot - y(d.issued)}>
              <title>{`${i.day(d.day)}: ${i.s("stats_issued")} ${i.num(d.issued)}`}</title>
            </rect>
            <rect
              class="redeemed"
              x={n * slot + 0.5 + bar}
              y={y(d.redeemed)}
              width={bar}
              height={PAD_TOP + plot - y(d.redeemed)}
            >
              <title>{`${i.day(d.day)}: ${i.s("stats_redeemed")} ${i.num(d.redeemed)}`}</title>
            </rect>
          </g>
        ))}
        {first && (
          <text class="tick" x="0" y={H - 4}>
            {i.day(first.day)}
          </text>
        )}
        {last && (
          <text class="tick" x={W} y={H - 4} text-anchor="end">
            {i.day(last.day)}
          </text>
        )}
      </svg>
      <p class="legend">
        <span class="key issued" /> {i.s("stats_issued")} <span class="key redeemed" /> {i.s("stats_redeemed")}
      </p>
    </figure>
  );
}
