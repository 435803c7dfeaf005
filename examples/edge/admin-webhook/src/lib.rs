//! A Cloudflare Worker serving the admin bot's webhook, plus the Cron Trigger that expires redemption requests and delivers broadcasts.
//! See `wrangler.toml` beside this crate and `docs/DEPLOY_CLOUDFLARE.md`.
#![cfg(target_arch = "wasm32")]

use loyalty_edge::Service;
use loyalty_edge::core::Bots;
use loyalty_edge::web_sys::{Request, Response};
use worker::{Context, Env, ScheduleContext, ScheduledEvent, event};

/// The admin bot's webhook, with every bot's code: this Worker runs the Cron
/// Trigger, whose maintenance pass processes again the unfinished updates of
/// any bot (an update whose processing died in the client or the partner
/// Worker), and an engine leaves those of a bot it does not run untouched.
/// The other bots' code costs this Worker's size only; it answers no other
/// webhook.
const SERVICE: Service = Service::ADMIN_WEBHOOK.with_bots(Bots::ALL);

/// Every request goes to loyalty-edge, which answers only this Worker's routes.
#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    loyalty_edge::fetch(req, env, ctx, SERVICE).await
}

/// The Cron Trigger (`[triggers] crons` in `wrangler.toml`): expire overdue
/// redemption requests, deliver pending broadcasts and what waits in the
/// outbox, process again the updates whose processing died.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    loyalty_edge::scheduled(env, SERVICE).await;
}
