import type { components } from "./api-schema";

/** The API's schemas, generated from loyalty-core/src/api/openapi.json. */
export type Schemas = components["schemas"];

const BASE: string = (import.meta.env.VITE_API_BASE as string | undefined)?.replace(/\/$/, "") ?? "";

/** An answer of the API other than 2xx, or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  /** Whether Telegram's `initData` was refused: the page shows no data then. */
  get isAuth(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

let initData = "";

/** Sets the `initData` every call sends (`Authorization: tma …`). */
export function setInitData(data: string): void {
  initData = data;
}

/** A fresh Idempotency-Key for one write. */
export function idempotencyKey(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return "app-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Calls `/api/v1<path>` and answers its JSON; throws ApiError otherwise. */
export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown; key?: string; signal?: AbortSignal } = {},
): Promise<T> {
  const headers: Record<string, string> = { Authorization: "tma " + initData };
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  if (init.key) headers["Idempotency-Key"] = init.key;
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
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "network", String(e));
  }
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const err = json?.error;
    throw new ApiError(res.status, err?.code ?? "http_" + res.status, err?.message ?? res.statusText);
  }
  return json as T;
}
