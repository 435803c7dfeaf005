// The Mini App: the page decides its mode from the URL (none: the customer's, ?mode=partner, ?mode=admin),
// follows Telegram's theme and viewport, and shows nothing but a message when initData is missing or refused.
import { render } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { Admin } from "./admin";
import { ApiError, onAuthError, setApiLanguage, setInitData } from "./api";
import { Customer } from "./customer";
import { I18n, isLang, type Lang, pickLang } from "./i18n";
import { Partner } from "./partner";
import { webApp, type WebApp } from "./telegram";
import { I18nContext, haptic } from "./ui";
import "./style.css";

type Mode = "customer" | "partner" | "admin";

function modeFromUrl(): Mode {
  const m = new URLSearchParams(location.search).get("mode");
  return m === "partner" || m === "admin" ? m : "customer";
}

/** Telegram's theme on the page: its colours as CSS variables, and the colour scheme. */
function applyTheme(tg: WebApp | null): void {
  const root = document.documentElement;
  const scheme =
    tg?.colorScheme ?? (window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  root.dataset.theme = scheme;
  root.style.colorScheme = scheme;
  for (const [key, value] of Object.entries(tg?.themeParams ?? {})) {
    if (typeof value === "string") root.style.setProperty("--tg-theme-" + key.replace(/_/g, "-"), value);
  }
}

/** Telegram's viewport height (the page's own height follows it, not the browser's). */
function applyViewport(tg: WebApp | null): void {
  const h = tg?.viewportStableHeight || tg?.viewportHeight;
  if (h) document.documentElement.style.setProperty("--app-height", h + "px");
}

const LANG_KEY = "loyalty.lang";

/** The language chosen in the settings on this device, if any. */
function savedLang(): Lang | null {
  try {
    const l = localStorage.getItem(LANG_KEY);
    return isLang(l) ? l : null;
  } catch {
    return null;
  }
}

function saveLang(l: Lang): void {
  try {
    localStorage.setItem(LANG_KEY, l);
  } catch {
    // Storage may be off; the choice still holds for this visit and is saved for the bots.
  }
}

function App({ tg }: { tg: WebApp | null }) {
  // The language chosen in the settings, else Telegram's language_code (as the bots pick it at sign-up).
  const [lang, setLangState] = useState<Lang>(() => {
    const chosen = savedLang();
    return chosen ?? pickLang(tg?.initDataUnsafe?.user?.language_code);
  });
  const [refused, setRefused] = useState<ApiError | null>(null);
  const i18n = new I18n(lang);
  const setLang = useCallback((l: Lang) => {
    saveLang(l);
    setLangState(l);
  }, []);

  useEffect(() => {
    document.documentElement.lang = lang;
    setApiLanguage(lang);
  }, [lang]);
  useEffect(() => {
    onAuthError((e) => {
      setRefused((old) => old ?? e);
      haptic("error");
    });
  }, []);

  let body;
  if (!tg || !tg.initData) {
    body = <Refused text={i18n.s("outside_telegram")} />;
  } else if (refused) {
    body = <Refused text={refused.code === "not_admin" ? i18n.s("refusal") : i18n.s("auth_error")} />;
  } else {
    const mode = modeFromUrl();
    body = mode === "partner" ? <Partner /> : mode === "admin" ? <Admin /> : <Customer setLang={setLang} />;
  }
  return <I18nContext.Provider value={i18n}>{body}</I18nContext.Provider>;
}

function Refused({ text }: { text: string }) {
  return (
    <div class="app">
      <main>
        <p class="refused" data-testid="auth-error" role="alert">
          {text}
        </p>
      </main>
    </div>
  );
}

const tg = webApp();
setInitData(tg?.initData ?? "");
applyTheme(tg);
applyViewport(tg);
if (tg) {
  tg.onEvent("themeChanged", () => applyTheme(tg));
  tg.onEvent("viewportChanged", () => applyViewport(tg));
}
render(<App tg={tg} />, document.getElementById("root")!);
if (tg) {
  tg.ready();
  tg.expand();
}
