// The API, same origin unless the build sets VITE_API_BASE; every call carries Telegram's initData.
import type { components } from "./api-schema";

/** The API's schemas, generated from loyalty-core/src/api/openapi.json. */
export type Schemas = components["schemas"];

const BASE: string = ((import.meta.env.VITE_API_BASE as string | undefined) ?? "").replace(/\/$/, "");

/** Error codes that mean the initData itself was refused: the page shows nothing but a message then. */
const AUTH_CODES = new Set(["missing_auth", "invalid_init_data", "init_data_without_user", "wrong_bot", "not_admin"]);

/** An answer of the API other than 2xx, or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  /** Whether Telegram's `initData` was refused (401, or 403 for another bot's data or a non-admin). */
  get isAuth(): boolean {
    return this.status === 401 || (this.status === 403 && AUTH_CODES.has(this.code));
  }
}

let initData = "";
let language = "en";
let onAuth: (e: ApiError) => void = () => {};

/** Sets the `initData` every call sends (`Authorization: tma …`). */
export function setInitData(data: string): void {
  initData = data;
}

/** Sets the language of the API's error messages (`Accept-Language`). */
export function setApiLanguage(lang: string): void {
  language = lang;
}

/** Who hears that the initData was refused (the page then shows only the message). */
export function onAuthError(cb: (e: ApiError) => void): void {
  onAuth = cb;
}

/** A fresh Idempotency-Key for one write. */
export function newKey(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return "app-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The Idempotency-Keys of writes not known to be done, by what they do (e.g. `credit:<code>:<purchase>`).
 * A write that got no answer, or a 5xx, may have happened: trying the same write again must send the same
 * key, so the API answers the first result instead of doing it twice. An answer (2xx or 4xx) settles it,
 * and the next identical write — a second purchase of the same amount — is a new one.
 */
const unsettled = new Map<string, string>();

/** Whether `e` is an aborted fetch. */
export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === "AbortError";
}

/**
 * Calls `/api/v1<path>` and answers its JSON; throws ApiError otherwise. A write names itself in `write`
 * (its Idempotency-Key then survives a failed attempt, see `unsettled`) or passes its own `key`.
 */
export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown; key?: string; write?: string; signal?: AbortSignal } = {},
): Promise<T> {
  const headers: Record<string, string> = { Authorization: "tma " + initData, "Accept-Language": language };
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  let key = init.key;
  if (init.write !== undefined) {
    key = unsettled.get(init.write) ?? newKey();
    unsettled.set(init.write, key);
  }
  if (key) headers["Idempotency-Key"] = key;
  let res: Response;
  try {
    res = await fetch(BASE + "/api/v1" + path, {
      method: init.method ?? "GET",
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: init.signal,
      cache: "no-store",
    });
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(0, "network", String(e));
  }
  if (init.write !== undefined && res.status < 500) unsettled.delete(init.write);
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const err = json?.error;
    const e = new ApiError(res.status, err?.code ?? "http_" + res.status, err?.message ?? res.statusText);
    if (e.isAuth) onAuth(e);
    throw e;
  }
  return json as T;
}

/** Waits `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });
}
