//! CORS for exactly one origin: the front end's (`FRONTEND_URL`).
//!
//! A request whose `Origin` is that origin gets `Access-Control-Allow-Origin`
//! with it; any other origin gets no CORS headers, so browsers refuse to show
//! it the response, and its preflight is refused with 403. Without
//! `FRONTEND_URL` there is no CORS at all. Authentication is by header, never
//! by cookie, so credentials are not allowed.

use http::header::{HeaderValue, ORIGIN, VARY};
use http::{HeaderMap, Response};

/// Methods announced in preflight answers.
pub const ALLOWED_METHODS: &str = "GET, POST, OPTIONS";
/// Request headers the front end may send.
pub const ALLOWED_HEADERS: &str = "Authorization, Content-Type, Idempotency-Key";
/// How long browsers may cache a preflight answer, in seconds.
pub const MAX_AGE_SECS: u32 = 600;

/// The origin (`scheme://host[:port]`) of a URL such as `FRONTEND_URL`.
pub fn origin_of(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")? + 3;
    let rest = url.get(scheme_end..)?;
    let end = rest.find(['/', '?', '#']).map_or(url.len(), |i| scheme_end + i);
    let origin = url.get(..end)?;
    (end > scheme_end).then_some(origin)
}

/// The CORS decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// No `FRONTEND_URL`, or no `Origin` header: nothing to add.
    Off,
    /// The request comes from the front end; the value is its `Origin`.
    Allowed(HeaderValue),
    /// The request comes from some other origin.
    Denied,
}

impl Cors {
    /// Decides from the configured front-end URL and the request headers.
    pub fn evaluate(frontend_url: Option<&str>, headers: &HeaderMap) -> Cors {
        let (Some(allowed), Some(origin)) = (frontend_url.and_then(origin_of), headers.get(ORIGIN)) else {
            return Cors::Off;
        };
        match origin.to_str() {
            Ok(o) if o.eq_ignore_ascii_case(allowed) => Cors::Allowed(origin.clone()),
            _ => Cors::Denied,
        }
    }

    /// Adds `Access-Control-Allow-Origin` and `Vary: Origin` when allowed;
    /// `Vary: Origin` alone when denied (the answer depends on the origin).
    pub fn apply<B>(&self, response: &mut Response<B>) {
        let h = response.headers_mut();
        match self {
            Cors::Off => {}
            Cors::Allowed(origin) => {
                h.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                h.append(VARY, HeaderValue::from_static("Origin"));
            }
            Cors::Denied => {
                h.append(VARY, HeaderValue::from_static("Origin"));
            }
        }
    }

    /// Adds the preflight headers (after [`Cors::apply`]) to an allowed preflight answer.
    pub fn apply_preflight<B>(&self, response: &mut Response<B>) {
        if let Cors::Allowed(_) = self {
            let h = response.headers_mut();
            h.insert(http::header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOWED_METHODS));
            h.insert(http::header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOWED_HEADERS));
            h.insert(http::header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(MAX_AGE_SECS));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(o) = origin {
            h.insert(ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn origin_of_urls() {
        assert_eq!(origin_of("https://app.example.com"), Some("https://app.example.com"));
        assert_eq!(origin_of("https://app.example.com:8443/mini/app?x"), Some("https://app.example.com:8443"));
        assert_eq!(origin_of("https://"), None);
        assert_eq!(origin_of("app.example.com"), None);
    }

    #[test]
    fn only_the_front_end_is_allowed() {
        let fe = Some("https://app.example.com/miniapp");
        assert_eq!(
            Cors::evaluate(fe, &headers(Some("https://app.example.com"))),
            Cors::Allowed(HeaderValue::from_static("https://app.example.com"))
        );
        assert_eq!(Cors::evaluate(fe, &headers(Some("https://evil.example.com"))), Cors::Denied);
        assert_eq!(Cors::evaluate(fe, &headers(Some("https://app.example.com.evil.io"))), Cors::Denied);
        assert_eq!(Cors::evaluate(fe, &headers(Some("http://app.example.com"))), Cors::Denied);
        assert_eq!(Cors::evaluate(fe, &headers(None)), Cors::Off);
        assert_eq!(Cors::evaluate(None, &headers(Some("https://app.example.com"))), Cors::Off);
    }

    #[test]
    fn headers_added() {
        let mut r = Response::new(());
        let c = Cors::Allowed(HeaderValue::from_static("https://app.example.com"));
        c.apply(&mut r);
        c.apply_preflight(&mut r);
        assert_eq!(r.headers()["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(r.headers()["vary"], "Origin");
        assert_eq!(r.headers()["access-control-allow-headers"], ALLOWED_HEADERS);
        let mut r = Response::new(());
        Cors::Denied.apply(&mut r);
        Cors::Denied.apply_preflight(&mut r);
        assert!(r.headers().keys().all(|k| !k.as_str().starts_with("access-control-")));
    }
}
