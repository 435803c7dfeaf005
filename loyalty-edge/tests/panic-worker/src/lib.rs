//! A test fixture for `loyalty-edge/tests/workerd.rs`: every loyalty-edge
//! route ([`loyalty_edge::Service::All`]), plus `GET /__panic`, which panics inside the
//! wasm instance, to show that a panic fails only its own request.
#![cfg(target_arch = "wasm32")]

use loyalty_edge::Service;
use worker::{Context, Env, Request, Response, event};

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    if req.path() == "/__panic" {
        // After an await point, as a panic deep in a handler would be.
        worker::Delay::from(std::time::Duration::from_millis(1)).await;
        panic!("forced by the test fixture");
    }
    loyalty_edge::fetch(req, env, ctx, Service::All).await
}
