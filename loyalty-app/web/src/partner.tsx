// The partner's till (owner or cashier, opened from the partner bot) and, for the owner, the figures.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, isAbort, sleep, type Schemas } from "./api";
import { Chart } from "./chart";
import { ErrorLine, haptic, useI18n, useMainButton } from "./ui";
import { webApp } from "./telegram";

/** The code in a scanned card: the partner bot's link `https://t.me/<bot>?start=c_<code>`, or a code as is. */
export function codeFrom(text: string): string | null {
  const s = text.trim();
  const link = /[?&]start=c_([A-Za-z0-9-]+)/.exec(s);
  if (link) return link[1];
  const bare = /^c_([A-Za-z0-9-]+)$/.exec(s) ?? /^([A-Za-z0-9]{8}(?:-[A-Za-z0-9]{8})?)$/.exec(s.replace(/\s+/g, ""));
  return bare ? bare[1] : null;
}

/** A positive whole amount typed as `1500` or `1 500`, else null. */
function amount(text: string): number | null {
  const s = text.replace(/[\s\u202F\u00A0.,]/g, "");
  if (!/^\d{1,12}$/.test(s)) return null;
  const n = Number(s);
  return n > 0 ? n : null;
}

type Result = { text: string; ok: boolean };

export function Partner() {
  const i = useI18n();
  const [figures, setFigures] = useState<Schemas["Figures"] | null>(null);
  const [owner, setOwner] = useState<boolean | null>(null);
  const [typed, setTyped] = useState("");
  const [customer, setCustomer] = useState<Schemas["PosCustomer"] | null>(null);
  const [purchase, setPurchase] = useState("");
  const [points, setPoints] = useState("");
  const [result, setResult] = useState<Result | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const watch = useRef<AbortController | null>(null);

  const loadFigures = () =>
    api<Schemas["Figures"]>("/partner/figures?days=30").then(
      (f) => {
        setFigures(f);
        setOwner(true);
      },
      (e) => {
        // A cashier works the till only: the owner's figures answer them 404 unknown_partner.
        if (e instanceof ApiError && e.status === 404) setOwner(false);
        else setError(e);
      },
    );
  useEffect(() => {
    loadFigures();
    return () => watch.current?.abort();
  }, []);

  const open = async (code: string) => {
    setError(null);
    setResult(null);
    setCustomer(null);
    try {
      setCustomer(await api<Schemas["PosCustomer"]>(`/partner/customers/${encodeURIComponent(code)}`));
      haptic("success");
    } catch (e) {
      haptic("error");
      setError(e);
    }
  };

  const scan = () => {
    const tg = webApp();
    setError(null);
    if (!tg?.showScanQrPopup) return;
    tg.showScanQrPopup({ text: i.s("scan_hint") }, (text) => {
      const code = codeFrom(text);
      if (!code) return false;
      open(code);
      return true;
    });
  };

  const openTyped = () => {
    // A link or `c_…` as scanned, else what was typed as it is: the API reads codes as the partner bot does
    // (spaces, dashes, lower case, look-alike letters) and answers invalid_customer_code for anything else.
    const code = codeFrom(typed) ?? typed.trim();
    if (code) open(code);
    else setError(new ApiError(400, "invalid_customer_code", i.str("bad_code", { input: typed })));
  };

  const credit = async () => {
    if (!customer || busy) return;
    const p = amount(purchase);
    if (p === null) {
      setResult({ text: i.s("bad_amount"), ok: false });
      haptic("error");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const c = await api<Schemas["Credit"]>("/partner/credits", {
        method: "POST",
        write: `credit:${customer.customer_code}:${p}`,
        body: { customer_code: customer.customer_code, purchase: p },
      });
      setResult({
        ok: true,
        text:
          c.points === 0
            ? i.str("credited_nothing", { code: c.customer_code, purchase_pts: i.num(p) })
            : i.str("credited", {
                points: i.signed(c.points),
                name: customer.first_name,
                code: c.customer_code,
                purchase_pts: i.num(p),
                balance_pts: i.num(c.balance),
                entry: c.entry_id,
              }),
      });
      setCustomer({ ...customer, balance: c.balance });
      setPurchase("");
      haptic("success");
      if (owner) loadFigures();
    } catch (e) {
      haptic("error");
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const redeem = async () => {
    if (!customer || busy) return;
    const p = amount(purchase);
    const pts = amount(points);
    if (p === null || pts === null) {
      setResult({ text: i.s("bad_amount"), ok: false });
      haptic("error");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const r = await api<Schemas["RedemptionAnswer"]>("/partner/redemptions", {
        method: "POST",
        write: `redeem:${customer.customer_code}:${pts}:${p}`,
        body: { customer_code: customer.customer_code, points: pts, purchase: p },
      });
      const id = r.redemption.id;
      const code = customer.customer_code;
      setResult({
        ok: true,
        text: i.str("redemption_sent", {
          id,
          name: customer.first_name,
          code,
          points_pts: i.num(pts),
          purchase_pts: i.num(p),
        }),
      });
      haptic("success");
      follow(id, code, pts, p);
    } catch (e) {
      haptic("error");
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  /** Waits for the customer's answer to request `id` and shows it. */
  const follow = (id: number, code: string, pts: number, p: number) => {
    watch.current?.abort();
    const stop = new AbortController();
    watch.current = stop;
    (async () => {
      for (let n = 0; n < 40 && !stop.signal.aborted; n++) {
        try {
          const r = await api<Schemas["RedemptionAnswer"]>(`/partner/redemptions/${id}?wait=25`, {
            signal: stop.signal,
          });
          const status = r.redemption.status;
          if (status === "pending") continue;
          const text =
            status === "confirmed"
              ? i.str("partner_confirmed", { code, paid: i.points(pts), id, balance: i.points(r.balance) })
              : status === "declined"
                ? i.str("partner_declined", { code, requested: i.points(pts), id })
                : i.str("partner_expired", { id, points_pts: i.num(pts), purchase_pts: i.num(p) });
          setResult({ text, ok: status === "confirmed" });
          haptic(status === "confirmed" ? "success" : "warning");
          if (status === "confirmed") {
            setCustomer((c) => (c ? { ...c, balance: r.balance } : c));
            if (owner) loadFigures();
          }
          return;
        } catch (e) {
          if (isAbort(e) || (e instanceof ApiError && (e.isAuth || e.status === 404))) return;
          await sleep(3_000, stop.signal);
        }
      }
    })();
  };

  useMainButton(customer && amount(purchase) !== null ? i.s("button_credit") : null, credit, busy);

  const today = figures?.days[figures.days.length - 1];
  return (
    <div class="app">
      <main>
        <section data-testid="screen-partner" class="screen">
          <button type="button" class="primary wide" data-testid="partner-scan" onClick={scan}>
            {i.s("scan")}
          </button>
          <div class="row">
            <input
              data-testid="partner-code"
              aria-label={i.s("customer_code")}
              placeholder={i.s("customer_code")}
              autocapitalize="characters"
              autocomplete="off"
              value={typed}
              onInput={(e) => setTyped(e.currentTarget.value)}
              onKeyDown={(e) => e.key === "Enter" && openTyped()}
            />
            <button type="button" data-testid="partner-open" onClick={openTyped} disabled={!typed.trim()}>
              {i.s("open")}
            </button>
          </div>
          {customer && (
            <div class="customer">
              <p class="pre" data-testid="partner-customer">
                {i.str("customer_card", {
                  name: customer.first_name,
                  code: customer.customer_code,
                  balance_pts: i.num(customer.balance),
                })}
              </p>
              {customer.blocked && <p class="error">{i.s("customer_blocked")}</p>}
              <label class="field">
                <span>{i.s("amount_placeholder")}</span>
                <input
                  data-testid="partner-amount"
                  inputMode="numeric"
                  value={purchase}
                  onInput={(e) => setPurchase(e.currentTarget.value)}
                />
              </label>
              <label class="field">
                <span>{i.s("points_to_pay")}</span>
                <input
                  data-testid="partner-points"
                  inputMode="numeric"
                  value={points}
                  onInput={(e) => setPoints(e.currentTarget.value)}
                />
              </label>
              <div class="row">
                <button
                  type="button"
                  class="primary"
                  data-testid="partner-credit"
                  disabled={busy || customer.blocked}
                  onClick={credit}
                >
                  {i.s("button_credit")}
                </button>
                <button type="button" data-testid="partner-redeem" disabled={busy || customer.blocked} onClick={redeem}>
                  {i.s("button_redeem")}
                </button>
              </div>
            </div>
          )}
          {result && (
            <p class={"pre " + (result.ok ? "done" : "error")} data-testid="partner-result">
              {result.text}
            </p>
          )}
          <ErrorLine error={error} />
        </section>
        {owner && figures && (
          <section class="screen figures">
            <h2>{i.s("today")}</h2>
            <div class="tiles">
              <div class="tile">
                <span class="hint small">{i.s("stats_issued")}</span>
                <b data-testid="figures-today-issued">{i.num(today?.issued ?? 0)}</b>
              </div>
              <div class="tile">
                <span class="hint small">{i.s("stats_redeemed")}</span>
                <b data-testid="figures-today-redeemed">{i.num(today?.redeemed ?? 0)}</b>
              </div>
            </div>
            <Chart days={figures.days} />
          </section>
        )}
      </main>
    </div>
  );
}
