//! A Cloudflare Worker serving the admin bot's webhook, plus the Cron Trigger that expires redemption requests and delivers broadcasts.
//! See `wrangler.toml` beside this crate and `docs/DEPLOY_CLOUDFLARE.md`.
#![cfg(target_arch = "wasm32")]

use loyalty_edge::Service;
use loyalty_edge::core::domain::BotKind;
use loyalty_edge::web_sys::{Request, Response};
use worker::{Context, Env, ScheduleContext, ScheduledEvent, event};

/// Every request goes to loyalty-edge, which answers only this Worker's routes.
#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    loyalty_edge::fetch(req, env, ctx, Service::Webhook(BotKind::Admin)).await
}

/// The Cron Trigger (`[triggers] crons` in `wrangler.toml`): expire overdue
/// redemption requests, deliver pending broadcasts.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    loyalty_edge::scheduled(env).await;
}
