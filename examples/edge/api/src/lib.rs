//! A Cloudflare Worker serving the REST API for the web front end / Mini App, and the Sentry alert hook (`/hooks/sentry`).
//! See `wrangler.toml` beside this crate and `docs/DEPLOY_CLOUDFLARE.md`.
#![cfg(target_arch = "wasm32")]

use loyalty_edge::Service;
use loyalty_edge::web_sys::{Request, Response};
use worker::{Context, Env, event};

/// Every request goes to loyalty-edge, which answers only this Worker's routes
/// (and links the API's code, no bot's).
#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    loyalty_edge::fetch(req, env, ctx, Service::API).await
}
