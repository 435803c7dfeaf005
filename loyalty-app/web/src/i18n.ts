// The page's wording: loyalty_core::app_texts() (texts.json, the bots' own texts) and number formatting
// as the bots do it (thin-space thousands, "−" for negatives, plural forms of "points").
import type { ComponentChildren } from "preact";
import all from "./texts.json";

/** The page's languages, as the API names them. */
export type Lang = "ru" | "en" | "vi";
/** The texts of one language. */
export type Texts = (typeof all)["en"];
/** A key of a plain text or template. */
export type Key = { [K in keyof Texts]: Texts[K] extends string ? K : never }[keyof Texts];

export const LANGS: Lang[] = ["ru", "en", "vi"];

/** The language for Telegram's `language_code`, as the bots pick it (loyalty_core::domain::Language::from_code). */
export function pickLang(code: string | undefined): Lang {
  const primary = (code ?? "").split(/[-_]/)[0].toLowerCase();
  if (primary === "ru" || primary === "uk" || primary === "be" || primary === "kk") return "ru";
  if (primary === "vi") return "vi";
  return "en";
}

/** Whether `s` names one of the page's languages. */
export function isLang(s: unknown): s is Lang {
  return s === "ru" || s === "en" || s === "vi";
}

/** Wording and formatting in one language. */
export class I18n {
  readonly t: Texts;
  private readonly plural: Intl.PluralRules;

  constructor(readonly lang: Lang) {
    this.t = (all as Record<Lang, Texts>)[lang];
    this.plural = new Intl.PluralRules(lang);
  }

  /** A text without placeholders. */
  s(key: Key): string {
    return this.t[key];
  }

  /** A template with `{name}` placeholders filled with strings or elements. */
  f(key: Key, values: Record<string, ComponentChildren>): ComponentChildren[] {
    return this.t[key].split(/(\{[a-z0-9_]+\})/).map((part) => {
      const m = /^\{([a-z0-9_]+)\}$/.exec(part);
      return m && m[1] in values ? values[m[1]] : part;
    });
  }

  /** A template filled with strings only. */
  str(key: Key, values: Record<string, string | number>): string {
    return this.t[key].replace(/\{([a-z0-9_]+)\}/g, (whole, name: string) =>
      name in values ? String(values[name]) : whole,
    );
  }

  /** An amount as the bots write it: `1 234 567` (narrow no-break spaces), `−20`. */
  num(n: number): string {
    const digits = String(Math.abs(Math.trunc(n)));
    let out = "";
    for (let i = 0; i < digits.length; i++) {
      if (i > 0 && (digits.length - i) % 3 === 0) out += "\u202F";
      out += digits[i];
    }
    return (n < 0 ? "−" : "") + out;
  }

  /** `+50`, `−20`. */
  signed(n: number): string {
    return (n >= 0 ? "+" : "") + this.num(n);
  }

  /** The word "points" for `n`. */
  word(n: number): string {
    const forms = this.t.points as Record<string, string>;
    return forms[this.plural.select(Math.abs(n))] ?? forms.other;
  }

  /** `n` and the word "points": `1 point`, `5 баллов`. */
  points(n: number): string {
    return this.num(n) + " " + this.word(n);
  }

  /** Basis points as a percentage number (`550` → `5.5`), as the bots write it. */
  percent(bps: number): string {
    const whole = Math.floor(bps / 100);
    const frac = bps % 100;
    if (frac === 0) return String(whole);
    if (frac % 10 === 0) return whole + this.t.decimal_sep + frac / 10;
    return whole + this.t.decimal_sep + String(frac).padStart(2, "0");
  }

  /** A day (Unix seconds) as a date, UTC like the bots': `7 December`. */
  day(secs: number, withYear = false): string {
    return new Intl.DateTimeFormat(this.lang, {
      day: "numeric",
      month: "long",
      year: withYear ? "numeric" : undefined,
      timeZone: "UTC",
    }).format(new Date(secs * 1000));
  }

  /** A moment (Unix seconds) in the user's time zone: `7 Dec, 14:05`. */
  when(secs: number): string {
    return new Intl.DateTimeFormat(this.lang, {
      day: "numeric",
      month: "short",
      hour: "2-digit",
      minute: "2-digit",
    }).format(new Date(secs * 1000));
  }

  /** A month's name (1-based). */
  month(m: number): string {
    return new Intl.DateTimeFormat(this.lang, { month: "long", timeZone: "UTC" }).format(
      new Date(Date.UTC(2000, m - 1, 1)),
    );
  }
}
