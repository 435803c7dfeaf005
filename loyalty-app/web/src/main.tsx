import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, setInitData, type Schemas } from "./api";
import { webApp } from "./telegram";
import "./style.css";

function Card() {
  const [card, setCard] = useState<Schemas["CardCode"] | null>(null);
  const [me, setMe] = useState<Schemas["Me"] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    let timer = 0;
    const load = async () => {
      try {
        const c = await api<Schemas["CardCode"]>("/me/card-code");
        setCard(c);
        timer = window.setTimeout(load, Math.max(1000, c.refresh_at * 1000 - Date.now()));
      } catch (e) {
        setError(e as ApiError);
      }
    };
    load();
    api<Schemas["Me"]>("/me").then(setMe, (e) => setError(e as ApiError));
    return () => clearTimeout(timer);
  }, []);
  if (error?.isAuth) {
    return (
      <p class="error" data-testid="auth-error">
        This page could not prove who you are. Close it and open it again from the bot.
      </p>
    );
  }
  return (
    <section data-testid="screen-card" class="card">
      {card && <div class="qr" data-testid="card-qr" dangerouslySetInnerHTML={{ __html: card.qr_svg }} />}
      {card && (
        <p class="code" data-testid="card-code">
          {card.code}
        </p>
      )}
      {card && <p class="hint">{card.card_code}</p>}
      {me && (
        <p class="balance">
          <span data-testid="balance">{me.balance}</span>
        </p>
      )}
      {error && <p class="error">{error.message}</p>}
    </section>
  );
}

function App() {
  const tg = webApp();
  if (!tg || !tg.initData) {
    return <p class="error" data-testid="auth-error">Open this page from the bot in Telegram.</p>;
  }
  return <Card />;
}

const tg = webApp();
if (tg) {
  setInitData(tg.initData);
  tg.ready();
  tg.expand();
}
render(<App />, document.getElementById("root")!);
