// What the screens share: the language, error lines, Telegram's buttons and haptics.
import { createContext } from "preact";
import { useContext, useEffect, useRef } from "preact/hooks";
import { ApiError } from "./api";
import type { I18n } from "./i18n";
import { webApp } from "./telegram";

/** The page's wording in the user's language. */
export const I18nContext = createContext<I18n>(null as unknown as I18n);

/** The page's wording in the user's language. */
export function useI18n(): I18n {
  return useContext(I18nContext);
}

/** A readable line for a failed call (the API's own message, in the user's language, when it has one). */
export function errorText(i: I18n, e: unknown): string {
  if (!(e instanceof ApiError)) return i.s("internal_error");
  if (e.status === 0) return i.s("network_error");
  switch (e.code) {
    case "not_registered":
      return i.s("need_start");
    case "card_code_expired":
      return i.s("card_code_expired");
    case "redemption_expired":
      return i.s("redemption_expired");
    case "redemption_closed":
      return i.s("redemption_closed");
  }
  if (e.status >= 500 && e.status !== 503) return i.s("internal_error");
  return e.message || i.s("internal_error");
}

/** A line saying what went wrong, or nothing. */
export function ErrorLine({ error }: { error: unknown }) {
  const i = useI18n();
  if (!error || (error instanceof ApiError && error.isAuth)) return null;
  return (
    <p class="error" role="alert">
      {errorText(i, error)}
    </p>
  );
}

/** Telegram's haptic feedback, when there is any. */
export function haptic(kind: "success" | "error" | "warning"): void {
  try {
    webApp()?.HapticFeedback?.notificationOccurred(kind);
  } catch {
    // Older clients have no haptics.
  }
}

/** Telegram's light tap. */
export function tap(): void {
  try {
    webApp()?.HapticFeedback?.selectionChanged();
  } catch {
    // Older clients have no haptics.
  }
}

/** Shows Telegram's MainButton with `text` while `text` is set; a press calls `onClick`. */
export function useMainButton(text: string | null, onClick: () => void, busy = false): void {
  const cb = useRef(onClick);
  cb.current = onClick;
  useEffect(() => {
    const button = webApp()?.MainButton;
    if (!button || text === null) return;
    const handler = () => cb.current();
    button.setText(text);
    button.onClick(handler);
    button.show();
    return () => {
      button.offClick(handler);
      button.hide();
    };
  }, [text]);
  useEffect(() => {
    const button = webApp()?.MainButton;
    if (!button || text === null) return;
    if (busy) button.showProgress(false);
    else button.hideProgress();
  }, [busy, text]);
}

/** Shows Telegram's BackButton while `onBack` is set. */
export function useBackButton(onBack: (() => void) | null): void {
  const cb = useRef(onBack);
  cb.current = onBack;
  const shown = onBack !== null;
  useEffect(() => {
    const button = webApp()?.BackButton;
    if (!button || !shown) return;
    const handler = () => cb.current?.();
    button.onClick(handler);
    button.show();
    return () => {
      button.offClick(handler);
      button.hide();
    };
  }, [shown]);
}
