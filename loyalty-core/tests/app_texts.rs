//! The Mini App's texts (`loyalty-app/web/src/texts.json`) are the export of
//! `loyalty_core::app_texts()`: this test fails when the committed file
//! differs, and rewrites it when `LOYALTY_UPDATE_TEXTS=1`.

use serde_json::Value;
use std::path::PathBuf;

fn texts_json() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../loyalty-app/web/src/texts.json")
}

/// The export as written to the file: two-space indentation, keys sorted, a final newline.
fn rendered() -> String {
    let mut out = serde_json::to_string_pretty(&loyalty_core::app_texts()).expect("JSON");
    out.push('\n');
    out
}

#[test]
fn the_committed_texts_are_the_export() {
    let path = texts_json();
    let want = rendered();
    if std::env::var("LOYALTY_UPDATE_TEXTS").as_deref() == Ok("1") {
        std::fs::write(&path, &want).expect("write texts.json");
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is not what loyalty_core::app_texts() exports; run `LOYALTY_UPDATE_TEXTS=1 cargo test -p loyalty-core --test app_texts` and commit it",
        path.display()
    );
}

fn strings(v: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => out.push((path.to_string(), s.clone())),
        Value::Object(m) => m.iter().for_each(|(k, v)| strings(v, &format!("{path}.{k}"), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, v)| strings(v, &format!("{path}[{i}]"), out)),
        _ => {}
    }
}

#[test]
fn every_language_has_the_same_keys_and_templates() {
    let texts = loyalty_core::app_texts();
    let langs = ["ru", "en", "vi"];
    let keys = |lang: &str| -> Vec<String> {
        let mut all = Vec::new();
        strings(&texts[lang], "", &mut all);
        all.into_iter().map(|(k, _)| k).collect()
    };
    for lang in langs {
        assert_eq!(keys(lang), keys("en"), "{lang} has other keys than en");
    }
    let placeholders = |s: &str| -> Vec<String> {
        let mut found: Vec<String> =
            s.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string())).collect();
        found.sort();
        found
    };
    let mut en = Vec::new();
    strings(&texts["en"], "", &mut en);
    for lang in langs {
        let mut other = Vec::new();
        strings(&texts[lang], "", &mut other);
        for ((key, en_text), (_, text)) in en.iter().zip(&other) {
            assert_eq!(placeholders(text), placeholders(en_text), "{lang}{key}: {text:?} against en {en_text:?}");
        }
    }
}

#[test]
fn no_sentinel_html_or_empty_text_is_left() {
    let mut all = Vec::new();
    strings(&loyalty_core::app_texts(), "", &mut all);
    for (key, text) in all {
        let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
        assert!(!digits.contains("90123450") && !digits.contains("901234510"), "{key}: a sentinel is left in {text:?}");
        assert!(!text.contains('<'), "{key}: HTML is left in {text:?}");
        assert!(!text.contains("&lt;") && !text.contains("&amp;"), "{key}: an entity is left in {text:?}");
        assert!(!text.trim().is_empty(), "{key} is empty");
    }
}

#[test]
fn templates_carry_the_placeholders_the_page_fills() {
    let texts = loyalty_core::app_texts();
    let expect = [
        ("balance", &["{balance}"][..]),
        ("expiring", &["{points}", "{date}"]),
        ("card_caption", &["{code}"]),
        ("tier_progress", &["{needed_pts}", "{next}"]),
        ("redemption_request", &["{partner}", "{points_pts}", "{purchase_pts}", "{balance_pts}"]),
        ("redemption_confirmed", &["{partner}", "{paid}", "{balance}"]),
        ("redemption_declined", &["{partner}", "{requested}"]),
        ("customer_card", &["{name}", "{code}", "{balance_pts}"]),
        ("credited", &["{points}", "{name}", "{code}", "{purchase_pts}", "{balance_pts}", "{entry}"]),
        ("redemption_sent", &["{id}", "{name}", "{code}", "{points_pts}", "{purchase_pts}"]),
        ("partner_confirmed", &["{code}", "{paid}", "{id}", "{balance}"]),
        ("partner_declined", &["{code}", "{requested}", "{id}"]),
        ("partner_expired", &["{id}", "{points_pts}", "{purchase_pts}"]),
        ("birthday_set", &["{day}", "{month}"]),
        ("tier_name", &["{name}"]),
        ("partner_terms", &["{earn}", "{share}"]),
        ("program_stats", &["{customers}", "{outstanding_pts}", "{today_issued_pts}", "{today_redeemed_pts}"]),
    ];
    for lang in ["ru", "en", "vi"] {
        for (key, names) in expect {
            let text = texts[lang][key].as_str().unwrap_or_else(|| panic!("{lang}.{key} is missing"));
            for name in names {
                assert!(text.contains(name), "{lang}.{key} lacks {name}: {text:?}");
            }
        }
    }
    for lang in ["ru", "en", "vi"] {
        let name = texts[lang]["tier_name"].as_str().unwrap();
        assert!(!name.contains("{times}") && !name.contains('('), "{lang}.tier_name keeps the name only: {name:?}");
    }
    assert_eq!(texts["en"]["tier_name"], "🏅 Tier: {name}");
    for lang in ["ru", "en", "vi"] {
        let terms = texts[lang]["partner_terms"].as_str().unwrap();
        assert!(!terms.contains("{name}") && !terms.contains("{category}"), "{lang}.partner_terms: {terms:?}");
    }
    assert_eq!(texts["en"]["points"]["one"], "point");
    assert_eq!(texts["en"]["points"]["other"], "points");
    assert_eq!(texts["ru"]["points"]["few"], "балла");
    assert_eq!(texts["ru"]["points"]["many"], "баллов");
    assert_eq!(texts["en"]["kinds"]["accrual"], "Purchase");
    assert_eq!(texts["en"]["nav_card"], "My card");
    assert_eq!(texts["en"]["nav_card_icon"], "💳");
}
