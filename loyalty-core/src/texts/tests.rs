use super::*;
use crate::domain::Timestamp;
use crate::domain::{PartnerTerms, TelegramUserId};
use Language::{En, Ru, Vi};

fn webhook(attempted: bool) -> Webhook {
    Webhook {
        id: crate::domain::WebhookId(4),
        partner: None,
        url: "https://crm.example.com/h?a=1&b=<2>".into(),
        events: vec![WebhookEvent::PointsCredited, WebhookEvent::TierChanged],
        secret: "whsec_secret-never-listed".into(),
        created_at: Timestamp(0),
        removed_at: None,
        last_attempt_at: attempted.then_some(Timestamp(1_795_000_000)),
        last_status: attempted.then_some(500),
        last_error: attempted.then(|| "HTTP 500".into()),
        last_success_at: attempted.then_some(Timestamp(1_794_000_000)),
    }
}

fn partner(status: PartnerStatus) -> Partner {
    Partner {
        id: PartnerId(3),
        telegram_id: TelegramUserId(77),
        name: "<Pho>".into(),
        category: "cafe & bar".into(),
        status,
        terms: PartnerTerms::default(),
        language: Vi,
        has_api_key: true,
        created_at: Timestamp(0),
    }
}

/// A sample of every kind of message (fixed, formatted, composed) in one language.
fn sample(lang: Language) -> Vec<String> {
    let (t, p) = (lang.texts(), partner(PartnerStatus::Approved));
    let (id, text) = (BroadcastId(1), "x".into());
    let job = BroadcastJob {
        id,
        audience: Audience::Customers,
        text,
        admin_chat: 1,
        total: 3,
        sent: 2,
        failed: 1,
        cursor: 3,
        done: true,
        created_at: Timestamp(0),
    };
    let mut v: Vec<String> =
        [Fixed::Blocked, Fixed::AskPrompt, Fixed::ApplyPrompt, Fixed::AdminHelp, Fixed::LanguageName]
            .map(|m| t.fixed(m).into())
            .into();
    v.extend([
        t.points(5),
        t.welcome(Esc("A"), &t.welcome_bonus(100), 100),
        client_help(t),
        partners(t, std::slice::from_ref(&p), 10),
        t.quota_exhausted(3),
        t.partner_declined(Esc("ABCD2345"), 10, 7),
        t.credited(Signed(5), Esc("Anna"), "ABCD2345", Pts(100), Pts(5), EntryId(1), true),
        t.credited(Signed(5), Esc("Anna"), "ABCD2345", Pts(100), Pts(5), EntryId(1), false),
        partner_stats(t, &PartnerStats { partner: p.clone(), today: Default::default(), week: Default::default() }),
        decided(t, &partner(PartnerStatus::Suspended), "Admin"),
        t.decision_toast(&p, false),
        partner_line(t, &p),
        t.broadcast_queued(BroadcastId(1), 2, t.audience(Audience::Partners)),
        t.broadcast_done(&job),
        t.program_stats(&ProgramStats::default()),
        t.customer_credited(Signed(5), Esc("P"), Pts(10)),
        t.api(&ApiText::MethodNotAllowed(vec!["GET", "POST"])),
        t.api(&ApiText::Rejected(Rejection::InsufficientBalance { balance: 1, requested: 2 })),
        t.webhooks_title().into(),
        t.webhooks_none().into(),
        t.webhooks_usage(&webhook_event_names()),
        webhook_line(t, &webhook(false)),
        webhook_line(t, &webhook(true)),
        webhook_attempt(t, "2026-11-26 09:00", None, Some(Esc("timed out"))),
        t.webhook_added(4, Esc("https://crm.example.com/h"), "all", "whsec_0123"),
        t.webhook_removed(4, Esc("https://crm.example.com/h")),
        t.rejection(&Rejection::WebhookLimit { max: 10 }),
    ]);
    v
}

#[test]
fn every_language_is_translated() {
    for lang in Language::ALL.into_iter().filter(|l| *l != En) {
        for (i, (en, other)) in sample(En).iter().zip(&sample(lang)).enumerate() {
            assert!(!en.is_empty() && !other.is_empty(), "text {i} is empty");
            assert_ne!(en, other, "text {i} is not translated to {}", lang.code());
        }
    }
    let names: std::collections::HashSet<_> = Language::ALL.map(|l| l.say(Fixed::EnglishName)).into();
    assert_eq!(names.len(), Language::ALL.len(), "every language has its own texts");
}

#[test]
fn people_text_is_escaped_and_lists_are_capped() {
    for t in Language::ALL.map(Language::texts) {
        let text = application(t, &partner(PartnerStatus::Applied), Some("a<b"));
        assert!(text.contains("&lt;Pho&gt;") && text.contains("cafe &amp; bar") && text.contains("a&lt;b"));
        assert!(t.customer_adjusted(Signed(1), Esc("<x>"), Pts(1)).contains("&lt;x&gt;"));
    }
    for t in Language::ALL.map(Language::texts) {
        for attempted in [false, true] {
            let line = webhook_line(t, &webhook(attempted));
            assert!(line.contains("https://crm.example.com/h?a=1&amp;b=&lt;2&gt;"), "{line}");
            assert!(line.contains("points.credited, tier.changed") && !line.contains("whsec_"), "{line}");
            assert_eq!(line.matches("HTTP 500").count(), usize::from(attempted), "the status once: {line}");
        }
    }
    assert_eq!(webhook_events(&WebhookEvent::ALL), "all");
    let out = partners(En.texts(), &vec![partner(PartnerStatus::Approved); 5], 3);
    assert!(out.matches("• ").count() == 3 && out.ends_with("…and 2 more"));
}

#[test]
fn numbers_and_plurals() {
    assert_eq!((Pts(0).to_string(), Pts(1234567).to_string()), ("0".into(), "1\u{202F}234\u{202F}567".into()));
    assert_eq!((Signed(-1500).to_string(), Signed(5).to_string()), ("−1\u{202F}500".into(), "+5".into()));
    assert_eq!(
        (Timestamp(0).utc_minutes(), Timestamp(1_795_000_000).utc_minutes()),
        ("1970-01-01 00:00".into(), "2026-11-18 11:06".into())
    );
    for (bps, sep, s) in [(550, '.', "5.5"), (1234, ',', "12,34"), (5, '.', "0.05"), (u32::MAX, '.', "42949672.95")] {
        assert_eq!(percent(bps, sep), s);
    }
    for (n, s) in [(1, "1 балл"), (3, "3 балла"), (5, "5 баллов"), (11, "11 баллов"), (21, "21 балл"), (-2, "−2 балла")]
    {
        assert_eq!(Ru.texts().points(n), s);
    }
    assert!(
        Ru.texts().quota_exhausted(3).contains("3 вопроса") && Ru.texts().quota_exhausted(20).contains("20 вопросов")
    );
    assert!(En.texts().quota_exhausted(1).contains("1 question today") && En.texts().points(1) == "1 point");
}

#[test]
fn accept_language_picks_a_language_we_speak() {
    for (header, lang) in [
        (None, En),
        (Some("ru"), Ru),
        (Some("vi-VN,vi;q=0.9"), Vi),
        (Some("de-DE, ru;q=0.5, en;q=0.4"), Ru),
        (Some("en;q=0.5, vi;q=0.8"), Vi),
        (Some("ru;q=0, en"), En),
        (Some("fr, de"), En),
        (Some("RU-ru"), Ru),
        (Some("vi;q=0.125, ru;q=0.12"), Vi),
        (Some("ru;q=1.0, vi;q=1"), Ru),
        (Some("vi;q=2, ru;q=0.5"), Ru),
        (Some("vi;q=0.5x, ru;q=.5, en;q=0.0001"), En),
    ] {
        assert_eq!(accept_language(header), lang, "{header:?}");
    }
}

#[test]
fn q_values_in_thousandths() {
    use super::qvalue;
    for (q, want) in
        [("1", Some(1000)), ("1.000", Some(1000)), ("0", Some(0)), ("0.5", Some(500)), ("0.125", Some(125))]
    {
        assert_eq!(qvalue(q), want, "{q}");
    }
    for bad in ["", ".5", "1.5", "2", "0.1234", "0.x", "-0.5", "1.001", "0.5 "] {
        assert_eq!(qvalue(bad), None, "{bad:?}");
    }
}
