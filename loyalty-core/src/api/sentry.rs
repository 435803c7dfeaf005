//! Sentry integration-platform webhooks: signature check and alert text.
//!
//! Sentry signs each webhook body with the integration's client secret
//! (`SENTRY_WEBHOOK_SECRET`): `Sentry-Hook-Signature` is the hex
//! HMAC-SHA256 of the raw body. `Sentry-Hook-Resource` names the payload:
//! `event_alert` (issue alert rule fired, `data.event`), `error` (`data.error`),
//! `issue` (`data.issue`, with `action` created/resolved/assigned/…) and
//! `metric_alert` (`action` critical/warning/resolved, `data.description_title`).
//! `installation` and anything else are acknowledged and ignored.

use crate::telegram::escape_html;
use hmac::Mac;
use serde_json::Value;

/// Longest title kept in an alert, in characters.
const MAX_FIELD_CHARS: usize = 300;

/// Whether `signature_hex` is the hex HMAC-SHA256 of `body` under `secret`
/// (compared in constant time).
pub fn verify_signature(secret: &str, body: &[u8], signature_hex: &str) -> bool {
    let Ok(given) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    let mut mac = super::new_mac(secret.as_bytes());
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// Signs `body` as Sentry does (hex HMAC-SHA256), for tests and tools.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = super::new_mac(secret.as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The resources that produce an alert.
pub const ALERT_RESOURCES: [&str; 4] = ["event_alert", "error", "issue", "metric_alert"];

fn text_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k)).filter(|v| !v.is_null())
}

/// A JSON value as short display text: strings as they are, numbers printed,
/// objects by their `slug` or `name`.
fn display(v: Option<&Value>) -> Option<String> {
    let s = match v? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        o @ Value::Object(_) => return display(o.get("slug").or_else(|| o.get("name"))),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(|i| display(Some(i))).collect();
            if parts.is_empty() {
                return None;
            }
            parts.join(", ")
        }
        Value::Null => return None,
    };
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut out: String = s.chars().take(MAX_FIELD_CHARS).collect();
    if s.chars().nth(MAX_FIELD_CHARS).is_some() {
        out.push('…');
    }
    Some(out)
}

/// The parts of an alert, before formatting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alert {
    /// `Sentry-Hook-Resource`.
    pub resource: String,
    /// `action`.
    pub action: Option<String>,
    /// What happened.
    pub title: Option<String>,
    /// Project slug or id.
    pub project: Option<String>,
    /// Where in the code.
    pub culprit: Option<String>,
    /// `error`, `warning`, …
    pub level: Option<String>,
    /// The alert rule that fired.
    pub rule: Option<String>,
    /// Link to Sentry's web UI (`https://` only).
    pub web_url: Option<String>,
}

impl Alert {
    /// Reads an alert from a webhook payload; `None` for resources that are
    /// not alerts (such as `installation`).
    pub fn from_payload(resource: &str, payload: &Value) -> Option<Alert> {
        let object = match resource {
            "event_alert" => "event",
            "error" => "error",
            "issue" => "issue",
            "metric_alert" => "metric_alert",
            _ => return None,
        };
        let o = text_at(payload, &["data", object]);
        let field = |k: &str| display(o.and_then(|o| text_at(o, &[k])));
        let mut alert = Alert {
            resource: resource.to_string(),
            action: display(text_at(payload, &["action"])),
            title: field("title"),
            project: field("project"),
            culprit: field("culprit"),
            level: field("level"),
            rule: display(text_at(payload, &["data", "triggered_rule"])),
            web_url: display(o.and_then(|o| text_at(o, &["web_url"]))),
        };
        if resource == "metric_alert" {
            alert.title = display(text_at(payload, &["data", "description_title"])).or(alert.title);
            alert.culprit = display(text_at(payload, &["data", "description_text"]));
            alert.project = display(text_at(payload, &["data", "metric_alert", "alert_rule", "projects"]));
            alert.rule = display(text_at(payload, &["data", "metric_alert", "alert_rule", "name"]));
            alert.web_url = display(text_at(payload, &["data", "web_url"])).or(alert.web_url);
        }
        if resource == "issue" {
            let short = field("shortId");
            if let (Some(s), Some(t)) = (short, alert.title.as_ref()) {
                alert.title = Some(format!("{s}: {t}"));
            }
        }
        alert.web_url = alert.web_url.filter(|u| u.starts_with("https://") && !u.contains(char::is_whitespace));
        Some(alert)
    }

    /// The Telegram message (HTML): resource and action, title, project,
    /// culprit, level, rule and a link, every value escaped.
    pub fn to_html(&self) -> String {
        let mut lines = Vec::new();
        let action = self.action.as_deref().map(|a| format!(" {}", escape_html(a))).unwrap_or_default();
        let icon = match self.action.as_deref() {
            Some("resolved") => "✅",
            Some("warning") => "⚠️",
            _ => "🚨",
        };
        lines.push(format!("{icon} <b>Sentry {}{action}</b>", escape_html(&self.resource)));
        lines.push(format!("<b>{}</b>", escape_html(self.title.as_deref().unwrap_or("(no title)"))));
        for (label, value) in
            [("Project", &self.project), ("Culprit", &self.culprit), ("Level", &self.level), ("Rule", &self.rule)]
        {
            if let Some(v) = value {
                lines.push(format!("{label}: <code>{}</code>", escape_html(v)));
            }
        }
        if let Some(url) = &self.web_url {
            lines.push(format!("<a href=\"{}\">Open in Sentry</a>", escape_html(url)));
        }
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signatures() {
        let body = br#"{"action":"triggered"}"#;
        let sig = sign("s3cret", body);
        assert_eq!(sig.len(), 64);
        assert!(verify_signature("s3cret", body, &sig));
        assert!(verify_signature("s3cret", body, &sig.to_uppercase()));
        assert!(!verify_signature("other", body, &sig));
        assert!(!verify_signature("s3cret", b"{}", &sig));
        assert!(!verify_signature("s3cret", body, &sig[..62]));
        assert!(!verify_signature("s3cret", body, "not hex"));
        assert!(!verify_signature("s3cret", body, ""));
    }

    #[test]
    fn event_alert_text_is_escaped() {
        let p = json!({"action": "triggered", "data": {
            "event": {"title": "TypeError: <b>x</b> & y", "culprit": "app.run", "level": "error", "project": 1,
                      "web_url": "https://sentry.io/organizations/o/issues/1/events/2/?a=1&b=2"},
            "triggered_rule": "Every error"}});
        let a = Alert::from_payload("event_alert", &p).unwrap();
        let html = a.to_html();
        assert!(html.contains("Sentry event_alert triggered"), "{html}");
        assert!(html.contains("TypeError: &lt;b&gt;x&lt;/b&gt; &amp; y"), "{html}");
        assert!(html.contains("Project: <code>1</code>"));
        assert!(html.contains("Rule: <code>Every error</code>"));
        assert!(html.contains("href=\"https://sentry.io/organizations/o/issues/1/events/2/?a=1&amp;b=2\""));
    }

    #[test]
    fn other_resources() {
        let issue = json!({"action": "created", "data": {"issue": {"title": "Boom", "shortId": "API-1",
            "project": {"slug": "api", "name": "API"}, "level": "fatal", "web_url": "javascript:alert(1)"}}});
        let a = Alert::from_payload("issue", &issue).unwrap();
        assert_eq!(a.title.as_deref(), Some("API-1: Boom"));
        assert_eq!(a.project.as_deref(), Some("api"));
        assert_eq!(a.web_url, None, "only https links");
        let metric = json!({"action": "critical", "data": {"description_title": "Too many errors",
            "description_text": "1000 events", "web_url": "https://sentry.io/alerts/1",
            "metric_alert": {"alert_rule": {"name": "errors", "projects": ["api", "web"]}}}});
        let m = Alert::from_payload("metric_alert", &metric).unwrap();
        assert_eq!(m.title.as_deref(), Some("Too many errors"));
        assert_eq!(m.project.as_deref(), Some("api, web"));
        assert_eq!(m.web_url.as_deref(), Some("https://sentry.io/alerts/1"));
        assert!(Alert::from_payload("installation", &json!({})).is_none());
        let empty = Alert::from_payload("error", &json!([1, 2])).unwrap();
        assert!(empty.to_html().contains("(no title)"));
        let long = "x".repeat(1000);
        let l = Alert::from_payload("error", &json!({"data": {"error": {"title": long}}})).unwrap();
        assert_eq!(l.title.unwrap().chars().count(), MAX_FIELD_CHARS + 1);
    }
}
