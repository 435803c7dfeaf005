// The customer's screens: card, history, partners and rewards, settings; pending redemption requests on top.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, isAbort, sleep, type Schemas } from "./api";
import { type Lang, LANGS, isLang } from "./i18n";
import { ErrorLine, haptic, tap, useBackButton, useI18n, useMainButton } from "./ui";

type Me = Schemas["Me"];
/** A request waiting for the customer's answer (`GET /me/redemptions`). */
type Pending = Schemas["PendingRedemption"];

type Screen = "card" | "history" | "partners" | "settings";

/** The customer's app. `setLang` switches the page's language. */
export function Customer({ setLang }: { setLang: (l: Lang) => void }) {
  const i = useI18n();
  const [me, setMe] = useState<Me | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [screen, setScreen] = useState<Screen>("card");

  const reload = useCallback(async () => {
    try {
      const m = await api<Me>("/me");
      setMe(m);
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, []);
  useEffect(() => {
    reload();
  }, [reload]);
  useBackButton(screen === "card" ? null : () => setScreen("card"));

  const nav = (to: Screen, icon: string, label: string) => (
    <button
      type="button"
      class={screen === to ? "active" : ""}
      data-testid={"nav-" + to}
      aria-current={screen === to ? "page" : undefined}
      onClick={() => {
        tap();
        setScreen(to);
      }}
    >
      <span class="icon" aria-hidden="true">
        {icon}
      </span>
      {label}
    </button>
  );

  return (
    <div class="app">
      <main>
        {me && !me.blocked && <Redemptions balance={me.balance} onAnswered={reload} />}
        {me?.blocked && <p class="note">{i.s("blocked")}</p>}
        <ErrorLine error={error} />
        {screen === "card" && <CardScreen me={me} onNewCode={reload} />}
        {screen === "history" && <HistoryScreen />}
        {screen === "partners" && <PartnersScreen onClaimed={reload} />}
        {screen === "settings" && (
          <SettingsScreen
            me={me}
            setLang={setLang}
          />
        )}
      </main>
      <nav class="tabs">
        {nav("card", i.t.nav_card_icon, i.s("nav_card"))}
        {nav("history", i.t.nav_history_icon, i.s("nav_history"))}
        {nav("partners", i.t.nav_partners_icon, i.s("nav_partners"))}
        {nav("settings", i.t.nav_settings_icon, i.s("nav_settings"))}
      </nav>
    </div>
  );
}

// ------------------------------------------------------------------ card

/** The card; `onNewCode` runs at each new rotating code after the first (the balance is fetched again then). */
function CardScreen({ me, onNewCode }: { me: Me | null; onNewCode: () => void }) {
  const i = useI18n();
  const [card, setCard] = useState<Schemas["CardCode"] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const stop = new AbortController();
    (async () => {
      for (let n = 0; !stop.signal.aborted; n++) {
        try {
          const c = await api<Schemas["CardCode"]>("/me/card-code", { signal: stop.signal });
          setCard(c);
          setError(null);
          // A cashier may have just credited the purchase the card was shown for.
          if (n > 0) onNewCode();
          // The server says when the next code starts; never poll faster than every 5 s.
          const wait = Math.min(30_000, Math.max(5_000, c.refresh_at * 1000 - Date.now() + 500));
          await sleep(wait, stop.signal);
        } catch (e) {
          if (isAbort(e) || (e instanceof ApiError && (e.isAuth || e.status === 404))) {
            setError(e);
            return;
          }
          setError(e);
          await sleep(5_000, stop.signal);
        }
      }
    })();
    return () => stop.abort();
  }, []);

  return (
    <section data-testid="screen-card" class="screen card">
      <div class="qr-box">
        {card ? (
          <div class="qr" data-testid="card-qr" dangerouslySetInnerHTML={{ __html: card.qr_svg }} />
        ) : (
          <div class="qr placeholder" aria-busy="true" />
        )}
        {card && (
          <p class="code" data-testid="card-code">
            {card.code}
          </p>
        )}
        {card && <p class="hint">{i.f("card_caption", { code: <b class="mono">{card.card_code}</b> })}</p>}
        <p class="hint small">{i.s("card_rotating")}</p>
      </div>
      <ErrorLine error={error} />
      {me ? <Balance me={me} /> : <p class="hint">{i.s("loading")}</p>}
    </section>
  );
}

function Balance({ me }: { me: Me }) {
  const i = useI18n();
  const next = me.next_tier;
  const from = me.tier_threshold ?? 0;
  const share = next ? Math.min(1, Math.max(0, (me.qualifying_points - from) / Math.max(1, next.threshold - from))) : 1;
  const needed = next ? Math.max(0, next.threshold - me.qualifying_points) : 0;
  return (
    <div class="balance-box">
      <p class="balance">
        {i.f("balance", {
          balance: (
            <b>
              <span data-testid="balance">{me.balance}</span> {i.word(me.balance)}
            </b>
          ),
        })}
      </p>
      <div class="tier" data-testid="tier">
        <p>{me.tier_name ? i.str("tier_name", { name: me.tier_name }) : me.tier > 0 ? i.str("tier_number", { tier: me.tier }) : i.s("tier_none")}</p>
        {next && (
          <>
            <div
              class="progress"
              role="progressbar"
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={Math.round(share * 100)}
            >
              <div style={{ width: `${share * 100}%` }} />
            </div>
            <p class="hint">
              {i.str(me.qualify_by === "purchases" ? "tier_progress_spend" : "tier_progress", {
                needed_pts: i.num(needed),
                next: next.name,
              })}
            </p>
          </>
        )}
      </div>
      {me.expiring_soon.length > 0 && (
        <p class="expiring" data-testid="expiring">
          {i.str("expiring", {
            points: i.points(me.expiring_soon.reduce((sum, e) => sum + e.points, 0)),
            date: i.day(Math.min(...me.expiring_soon.map((e) => e.at))),
          })}
        </p>
      )}
    </div>
  );
}

// ----------------------------------------------------------- redemptions

/** The requests waiting for the customer: long-polled while the page is open, answered here. */
function Redemptions({ balance, onAnswered }: { balance: number; onAnswered: () => void }) {
  const i = useI18n();
  const [list, setList] = useState<Pending[]>([]);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const answered = useRef(new Set<number>());

  useEffect(() => {
    const stop = new AbortController();
    (async () => {
      let current: Pending[] = [];
      while (!stop.signal.aborted) {
        try {
          // With nothing waiting, the server holds the call until a request arrives (up to 25 s);
          // with requests on screen, look again now and then to drop expired ones.
          if (current.length > 0) await sleep(5_000, stop.signal);
          const wait = current.length > 0 ? 0 : 25;
          const r = await api<Schemas["PendingRedemptions"]>(`/me/redemptions?wait=${wait}`, { signal: stop.signal });
          const fresh = r.redemptions.filter((p) => !answered.current.has(p.id));
          if (fresh.some((p) => !current.some((c) => c.id === p.id))) haptic("warning");
          current = fresh;
          setList(current);
        } catch (e) {
          if (isAbort(e) || (e instanceof ApiError && e.isAuth)) return;
          // An older server without the route, or a passing failure: try again later.
          await sleep(e instanceof ApiError && e.status === 404 ? 60_000 : 5_000, stop.signal);
        }
      }
    })();
    return () => stop.abort();
  }, []);

  const answer = async (p: Pending, confirm: boolean) => {
    setBusy(p.id);
    setError(null);
    try {
      const r = await api<Schemas["RedemptionAnswer"]>(`/redemptions/${p.id}/${confirm ? "confirm" : "decline"}`, {
        method: "POST",
        key: `redemption-${p.id}-${confirm ? "confirm" : "decline"}`,
      });
      const partner = r.redemption.partner?.name ?? p.partner.name;
      setDone(
        confirm
          ? i.str("redemption_confirmed", {
              partner,
              paid: i.points(r.redemption.points),
              balance: i.points(r.balance),
            })
          : i.str("redemption_declined", { partner, requested: i.points(r.redemption.points) }),
      );
      haptic(confirm ? "success" : "warning");
      answered.current.add(p.id);
      setList((l) => l.filter((x) => x.id !== p.id));
      onAnswered();
    } catch (e) {
      haptic("error");
      setError(e);
      if (e instanceof ApiError && (e.code === "redemption_expired" || e.code === "redemption_closed")) {
        answered.current.add(p.id);
        setList((l) => l.filter((x) => x.id !== p.id));
      }
    } finally {
      setBusy(null);
    }
  };

  const first = list[0];
  useMainButton(first ? i.s("button_confirm") : null, () => first && answer(first, true), busy !== null);

  if (list.length === 0 && !done && !error) return null;
  return (
    <div class="requests" aria-live="polite">
      {list.map((p) => (
        <div class="request" data-testid="redemption-pending" data-redemption-id={String(p.id)} key={p.id}>
          <p class="pre">
            {i.str("redemption_request", {
              partner: p.partner.name,
              points_pts: i.num(p.points),
              purchase_pts: i.num(p.purchase),
              balance_pts: i.num(balance),
            })}
          </p>
          <div class="row">
            <button
              type="button"
              class="primary"
              data-testid="redemption-confirm"
              disabled={busy !== null}
              onClick={() => answer(p, true)}
            >
              {i.s("button_confirm")}
            </button>
            <button type="button" data-testid="redemption-decline" disabled={busy !== null} onClick={() => answer(p, false)}>
              {i.s("button_decline")}
            </button>
          </div>
        </div>
      ))}
      {done && (
        <p class="done" data-testid="redemption-done">
          {done}
        </p>
      )}
      <ErrorLine error={error} />
    </div>
  );
}

// --------------------------------------------------------------- history

const PAGE = 20;

function HistoryScreen() {
  const i = useI18n();
  const [entries, setEntries] = useState<Schemas["Entry"][]>([]);
  const [next, setNext] = useState<number | null | undefined>(undefined);
  const [loading, setLoading] = useState(false);
  const [visible, setVisible] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [names, setNames] = useState<Record<number, string>>({});
  const end = useRef<HTMLDivElement>(null);

  useEffect(() => {
    api<Schemas["PartnerList"]>("/partners").then(
      (r) => setNames(Object.fromEntries(r.partners.map((p) => [p.id, p.name]))),
      () => {},
    );
  }, []);

  useEffect(() => {
    const el = end.current;
    if (!el || typeof IntersectionObserver === "undefined") return;
    const io = new IntersectionObserver((seen) => setVisible(seen.some((s) => s.isIntersecting)), {
      rootMargin: "200px",
    });
    io.observe(el);
    return () => io.disconnect();
  }, []);

  useEffect(() => {
    if (loading || error || next === null || !visible) return;
    setLoading(true);
    const before = next === undefined ? "" : `&before=${next}`;
    api<Schemas["TransactionPage"]>(`/me/transactions?limit=${PAGE}${before}`)
      .then((page) => {
        setEntries((e) => [...e, ...page.entries]);
        setNext(page.next_before ?? null);
      }, setError)
      .finally(() => setLoading(false));
  }, [next, visible, loading, error]);

  return (
    <section data-testid="screen-history" class="screen">
      <h1>{i.s("history_title")}</h1>
      {next === null && entries.length === 0 && <p class="hint">{i.s("no_history")}</p>}
      <ul class="list">
        {entries.map((e) => (
          <li data-testid="history-item" key={e.id} class="item">
            <div>
              <div>{(i.t.kinds as Record<string, string>)[e.kind] ?? e.kind}</div>
              <div class="hint small">
                {i.when(e.created_at)}
                {e.partner_id != null && names[e.partner_id] ? ` · ${names[e.partner_id]}` : ""}
              </div>
            </div>
            <b class={e.amount < 0 ? "minus" : "plus"}>{i.signed(e.amount)}</b>
          </li>
        ))}
      </ul>
      <div ref={end} class="end">
        {loading && <span class="hint">{i.s("loading")}</span>}
      </div>
      <ErrorLine error={error} />
    </section>
  );
}

// -------------------------------------------------------------- partners

function PartnersScreen({ onClaimed }: { onClaimed: () => void }) {
  const i = useI18n();
  const [partners, setPartners] = useState<Schemas["Partner"][] | null>(null);
  const [rewards, setRewards] = useState<Schemas["Reward"][] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [voucher, setVoucher] = useState<{ id: number; text: string } | null>(null);
  const [busy, setBusy] = useState<number | null>(null);

  useEffect(() => {
    api<Schemas["PartnerList"]>("/partners").then((r) => setPartners(r.partners), setError);
    (async () => {
      const all: Schemas["Reward"][] = [];
      let after: number | null = null;
      for (let n = 0; n < 5; n++) {
        const page: Schemas["RewardPage"] = await api(`/rewards?limit=50${after ? `&after=${after}` : ""}`);
        all.push(...page.rewards);
        after = page.next_after ?? null;
        if (after === null) break;
      }
      setRewards(all);
    })().catch(setError);
  }, []);

  const claim = async (r: Schemas["Reward"]) => {
    setBusy(r.id);
    setError(null);
    try {
      const v = await api<Schemas["VoucherAnswer"]>(`/rewards/${r.id}/claim`, { method: "POST", write: `claim:${r.id}` });
      setVoucher({
        id: r.id,
        text: i.str(v.replayed ? "voucher_again" : "voucher_issued", {
          title: localized(v.reward.offer.title, i.lang),
          partner: v.reward.partner_name,
          code: v.voucher.code,
          balance: i.points(v.balance),
        }),
      });
      haptic("success");
      onClaimed();
    } catch (e) {
      haptic("error");
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  const rewardItem = (r: Schemas["Reward"]) => (
    <li data-testid="reward-item" key={r.id} class="reward">
      <b>{localized(r.offer.title, i.lang)}</b>
      {r.offer.description && <span class="hint small">{localized(r.offer.description, i.lang)}</span>}
      {voucher?.id === r.id ? (
        <p class="done pre">{voucher.text}</p>
      ) : (
        <button type="button" class="primary" disabled={busy !== null} onClick={() => claim(r)}>
          {i.str("reward_claim", { price_pts: i.num(r.offer.price) })}
        </button>
      )}
    </li>
  );
  const known = new Set(partners?.map((p) => p.id));
  const others = rewards?.filter((r) => !known.has(r.partner)) ?? [];

  return (
    <section data-testid="screen-partners" class="screen">
      <h1>{i.s("partners_title")}</h1>
      {partners?.length === 0 && <p class="hint">{i.s("no_partners")}</p>}
      <ul class="list">
        {partners?.map((p) => {
          const own = rewards?.filter((r) => r.partner === p.id) ?? [];
          return (
            <li data-testid="partner-item" key={p.id} class="item column">
              <b>{p.name}</b>
              <span class="hint small">{p.category}</span>
              <span class="small">
                {i.str("partner_terms", { earn: i.percent(p.earn_rate_bps), share: i.percent(p.max_redeem_share_bps) })}
              </span>
              {own.length > 0 && <ul class="rewards">{own.map(rewardItem)}</ul>}
            </li>
          );
        })}
      </ul>
      {others.length > 0 && <ul class="rewards">{others.map(rewardItem)}</ul>}
      {rewards?.length === 0 && <p class="hint small">{i.s("rewards_none")}</p>}
      <ErrorLine error={error} />
    </section>
  );
}

function localized(t: Schemas["LocalizedText"], lang: Lang): string {
  return t[lang] ?? t.en;
}

// -------------------------------------------------------------- settings

function SettingsScreen({ me, setLang }: { me: Me | null; setLang: (l: Lang) => void }) {
  const i = useI18n();
  const [day, setDay] = useState("");
  const [month, setMonth] = useState("");
  const [saved, setSaved] = useState<ComponentChildren>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const chooseLang = async (lang: string) => {
    if (!isLang(lang)) return;
    setLang(lang);
    setError(null);
    try {
      await api<Schemas["LanguageRequest"]>("/me/language", { method: "PUT", body: { language: lang } });
      setSaved(i.s("language_set"));
      haptic("success");
    } catch (e) {
      setError(e);
    }
  };

  const save = async () => {
    if (!day || !month) return;
    setBusy(true);
    setError(null);
    try {
      const b = await api<Schemas["Birthday"]>("/me/birthday", {
        method: "PUT",
        body: { day: Number(day), month: Number(month) },
      });
      setSaved(
        i.str("birthday_set", { day: String(b.day).padStart(2, "0"), month: String(b.month).padStart(2, "0") }),
      );
      haptic("success");
    } catch (e) {
      haptic("error");
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section data-testid="screen-settings" class="screen">
      <h1>{i.s("nav_settings")}</h1>
      <label class="field">
        <span>{i.s("language_choose")}</span>
        <select data-testid="settings-language" value={i.lang} onChange={(e) => chooseLang(e.currentTarget.value)}>
          {LANGS.map((l) => (
            <option value={l} key={l}>
              {(i.t.language_names as Record<string, string>)[l]}
            </option>
          ))}
        </select>
      </label>
      <fieldset class="field">
        <legend>{i.s("birthday")}</legend>
        <div class="row">
          <label>
            <span class="hint small">{i.s("birthday_day")}</span>
            <select data-testid="settings-birthday-day" value={day} onChange={(e) => setDay(e.currentTarget.value)}>
              <option value="">—</option>
              {Array.from({ length: 31 }, (_, n) => (
                <option value={String(n + 1)} key={n}>
                  {n + 1}
                </option>
              ))}
            </select>
          </label>
          <label>
            <span class="hint small">{i.s("birthday_month")}</span>
            <select
              data-testid="settings-birthday-month"
              value={month}
              onChange={(e) => setMonth(e.currentTarget.value)}
            >
              <option value="">—</option>
              {Array.from({ length: 12 }, (_, n) => (
                <option value={String(n + 1)} key={n}>
                  {i.month(n + 1)}
                </option>
              ))}
            </select>
          </label>
        </div>
        <p class="hint small">{i.s("birthday_once")}</p>
      </fieldset>
      <button
        type="button"
        class="primary wide"
        data-testid="settings-save"
        disabled={busy || !day || !month || !me}
        onClick={save}
      >
        {i.s("save")}
      </button>
      {saved && <p class="done">{saved}</p>}
      <ErrorLine error={error} />
    </section>
  );
}
