//! A check of [`Storage::fold_claim`] for backends that fold an update's
//! claim into its first call (the RPC backends: Postgres, PostgREST, D1, SQLite).

use loyalty_core::domain::*;
use loyalty_core::ports::*;
use std::sync::Arc;

const NOW: Timestamp = Timestamp(1_700_006_400);

/// The bot whose updates the check folds, and another deployment's bot.
const BOT: BotId = BotId(8_000_000_001);
const OTHER_BOT: BotId = BotId(8_000_000_002);

fn claim(update_id: i64) -> UpdateClaim {
    UpdateClaim { bot: BOT, update_id, now: NOW, body: None, finished: Vec::new() }
}

fn application(telegram_id: i64) -> PartnerApplication {
    PartnerApplication {
        telegram_id: TelegramUserId(telegram_id),
        name: "Shop".into(),
        category: "food".into(),
        terms: PartnerTerms::default(),
        language: Language::En,
        now: NOW,
    }
}

fn view(store: &Arc<dyn Storage>, update_id: i64) -> Result<FoldedStore, String> {
    store.clone().fold_claim(claim(update_id)).ok_or_else(|| "the store does not fold claims".to_string())
}

/// Checks, on an empty store, that a folded claim is taken by the first call
/// together with its work; that a duplicate's first call applies nothing and
/// fails with [`StoreError::DuplicateUpdate`], as do its later calls; that a
/// refused first call still claims; and that reads claim too.
pub async fn check_fold_claim(store: Arc<dyn Storage>) -> Result<(), String> {
    let fail = |what: &str, e: StoreError| format!("{what}: unexpected error: {e:?}");
    // The first call claims and applies.
    let first = view(&store, 1)?;
    if first.state() != FoldState::Pending {
        return Err(format!("a new view is {:?}, not pending", first.state()));
    }
    let applied = first.storage.apply_partner(application(501)).await.map_err(|e| fail("first call", e))?;
    if !applied.created || first.state() != FoldState::Claimed {
        return Err(format!("first call: created {}, state {:?}", applied.created, first.state()));
    }
    first.storage.partner(PartnerRef::Id(applied.partner.id)).await.map_err(|e| fail("second call", e))?;
    if store.claim_update(claim(1)).await.map_err(|e| fail("claim", e))? {
        return Err("the first call did not claim the update".into());
    }
    // A duplicate: nothing applied, every call refused.
    let dup = view(&store, 1)?;
    match dup.storage.apply_partner(application(502)).await {
        Err(StoreError::DuplicateUpdate) => {}
        other => return Err(format!("duplicate's first call: {other:?}")),
    }
    if dup.state() != FoldState::Duplicate {
        return Err(format!("duplicate view is {:?}", dup.state()));
    }
    if store.partner(PartnerRef::Telegram(TelegramUserId(502))).await.map_err(|e| fail("lookup", e))?.is_some() {
        return Err("the duplicate's call was applied".into());
    }
    match dup.storage.partner(PartnerRef::Id(applied.partner.id)).await {
        Err(StoreError::DuplicateUpdate) => {}
        other => return Err(format!("duplicate's later call: {other:?}")),
    }
    // A refused first call claims.
    let refused = view(&store, 2)?;
    let adjust = AdjustBalance {
        now: NOW,
        ..crate::requests::adjust_req(CustomerRef::Telegram(TelegramUserId(999)), 5, "test", "fold-adjust")
    };
    match refused.storage.adjust_balance(adjust).await {
        Err(StoreError::Rejected(Rejection::UnknownCustomer)) => {}
        other => return Err(format!("refused first call: {other:?}")),
    }
    if refused.state() != FoldState::Claimed {
        return Err(format!("after a refusal the view is {:?}", refused.state()));
    }
    if store.claim_update(claim(2)).await.map_err(|e| fail("claim", e))? {
        return Err("a refused first call did not claim the update".into());
    }
    // A read claims too; another bot's update with the same id is another update.
    let read = view(&store, 3)?;
    read.storage.list_partners(None).await.map_err(|e| fail("read", e))?;
    if read.state() != FoldState::Claimed || store.claim_update(claim(3)).await.map_err(|e| fail("claim", e))? {
        return Err("a read did not claim the update".into());
    }
    if !store.claim_update(UpdateClaim { bot: OTHER_BOT, ..claim(3) }).await.map_err(|e| fail("claim", e))? {
        return Err("the claim of one bot's update blocked another bot's update".into());
    }
    // A folded claim finishes the earlier updates it carries, even when its use case is refused.
    let kept =
        |update_id: i64| UpdateClaim { body: Some(format!(r#"{{"update_id":{update_id}}}"#)), ..claim(update_id) };
    for n in [10, 11] {
        store.claim_update(kept(n)).await.map_err(|e| fail("claim", e))?;
    }
    let carrying = |update_id: i64, done: i64| UpdateClaim {
        finished: vec![UpdateRef { bot: BOT, update_id: done }],
        ..claim(update_id)
    };
    let read = store.clone().fold_claim(carrying(12, 10)).ok_or("the store does not fold claims")?;
    read.storage.list_partners(None).await.map_err(|e| fail("carrying read", e))?;
    let refused = store.clone().fold_claim(carrying(13, 11)).ok_or("the store does not fold claims")?;
    let adjust = AdjustBalance {
        now: NOW,
        ..crate::requests::adjust_req(CustomerRef::Telegram(TelegramUserId(999)), 5, "test", "fold-adjust-2")
    };
    if !matches!(refused.storage.adjust_balance(adjust).await, Err(StoreError::Rejected(_))) {
        return Err("the carrying call was not refused".into());
    }
    let stale = StaleUpdates { before: Timestamp(NOW.0 + 1), now: Timestamp(NOW.0 + 1_000), limit: 10 };
    let left = store.stale_updates(stale).await.map_err(|e| fail("stale", e))?;
    if left.iter().any(|u| u.bot == BOT && (u.update_id == 10 || u.update_id == 11)) {
        return Err(format!("the carried updates were not finished: {left:?}"));
    }
    Ok(())
}
