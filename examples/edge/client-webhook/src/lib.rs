//! A Cloudflare Worker serving the client bot's webhook (customers).
//! See `wrangler.toml` beside this crate and `docs/DEPLOY_CLOUDFLARE.md`.
#![cfg(target_arch = "wasm32")]

use loyalty_edge::Service;
use loyalty_edge::web_sys::{Request, Response};
use worker::{Context, Env, event};

/// Every request goes to loyalty-edge, which answers only this Worker's routes
/// (and links only this bot's code).
#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    loyalty_edge::fetch(req, env, ctx, Service::CLIENT_WEBHOOK).await
}
