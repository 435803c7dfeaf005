//! The campaign commands the admin bot and the partner bot share:
//! `/campaign <document>` makes one, `/campaigns` lists them (a partner sees
//! its place's), `/campaign_end <id>` stops one, and — admins only —
//! `/campaign_approve <id>` / `/campaign_reject <id>` decide a partner's.

use super::common::{list_text, parse_id};
use crate::context::Context;
use crate::domain::Language;
use crate::ports::{CampaignActor, CampaignDecision, CreateCampaign, DecideCampaign, ListCampaigns, StoreResult};
use crate::program::campaigns::CampaignDocument;
use crate::telegram::BotCall;
use crate::texts;
use crate::usecases::{self, Done};

/// How many campaigns `/campaigns` lists at most (the newest).
const LISTED: u32 = 20;

/// The document `/campaign` shows as an example.
const EXAMPLE: &str = r#"{"title": {"en": "Double points mornings", "ru": "Двойные баллы по утрам"},
 "kind": "multiplier", "multiplier_bps": 20000,
 "weekdays": ["mon", "tue", "wed", "thu", "fri"], "hours": [8, 11],
 "utc_offset_minutes": 420, "starts": "2027-01-01", "ends": "2027-01-31",
 "cap_per_customer": 500, "budget": 20000}"#;

/// A campaign command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CampaignCommand<'a> {
    /// `/campaign [<document>]`.
    Create(&'a str),
    /// `/campaigns`.
    List,
    /// `/campaign_end`, `/campaign_approve`, `/campaign_reject <id>`.
    Decide(CampaignDecision, &'a str),
}

impl<'a> CampaignCommand<'a> {
    /// The command named `name` (without the slash), if it is one.
    pub(crate) fn parse(name: &str, args: &'a str) -> Option<CampaignCommand<'a>> {
        Some(match name {
            "campaign" => CampaignCommand::Create(args),
            "campaigns" => CampaignCommand::List,
            "campaign_end" => CampaignCommand::Decide(CampaignDecision::End, args),
            "campaign_approve" => CampaignCommand::Decide(CampaignDecision::Approve, args),
            "campaign_reject" => CampaignCommand::Decide(CampaignDecision::Reject, args),
            _ => return None,
        })
    }
}

/// Runs `cmd` for `actor`: the reply in `lang` and the use case's notices. A
/// refusal of the store is the caller's to word (`Err`). `key` is the
/// update's idempotency key: a campaign made twice by one update is made once.
pub(crate) async fn run(
    cx: &Context,
    lang: Language,
    actor: CampaignActor,
    cmd: CampaignCommand<'_>,
    key: String,
) -> StoreResult<(String, Vec<BotCall>)> {
    let t = lang.texts();
    let now = cx.now();
    match cmd {
        CampaignCommand::Create(args) if args.trim().is_empty() => Ok((t.campaign_usage(EXAMPLE), Vec::new())),
        CampaignCommand::Create(args) => {
            let terms = match CampaignDocument::parse(args.trim()) {
                Ok(terms) => terms,
                Err(reason) => {
                    return Ok((t.rejection(&crate::ports::Rejection::InvalidCampaign { reason }), Vec::new()));
                }
            };
            let Done { outcome: c, notices } =
                usecases::create_campaign(cx, CreateCampaign { terms, by: actor, now, idempotency_key: Some(key) })
                    .await?;
            let pending = c.status == crate::program::campaigns::CampaignStatus::Pending;
            Ok((format!("{}\n\n{}", t.campaign_created(pending), texts::campaign_line(lang, &c, now)), notices))
        }
        CampaignCommand::List => {
            let partner = match &actor {
                CampaignActor::Partner(p) => Some(*p),
                CampaignActor::Admin(_) => None,
            };
            let list = cx.storage().campaigns(ListCampaigns { partner, limit: LISTED }).await?;
            // The newest first, as many as fit one message.
            let text = list_text(list.iter().map(|c| texts::campaign_line(lang, c, now)));
            Ok((text.unwrap_or_else(|| t.campaigns_none().to_owned()), Vec::new()))
        }
        CampaignCommand::Decide(decision, args) => {
            let Some(id) = parse_id(args) else { return Ok((t.campaign_usage(EXAMPLE), Vec::new())) };
            let req = DecideCampaign { campaign: crate::domain::CampaignId(id), decision, by: actor, now };
            let c = cx.storage().decide_campaign(req).await?;
            Ok((texts::campaign_line(lang, &c, now), Vec::new()))
        }
    }
}
