//! The Mini App's page under `/app/` of `loyalty serve`, over real loopback
//! connections: every file the page references, content types, gzip, `304`,
//! `HEAD`, the redirect of `/app`, and requests that try to reach anything
//! else (path traversal, odd or huge paths) — while `/api/…` stays the API's.

use loyalty_native::server::{App, serve};
use loyalty_testkit::TestEnv;
use std::io::Read;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// `loyalty serve`'s router on a loopback port; stops when dropped.
struct Server {
    base: String,
    addr: std::net::SocketAddr,
    http: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

impl Server {
    async fn start() -> Server {
        let app = App::new(TestEnv::new().engine).with_maintenance_interval(None);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(serve(listener, app, async move {
            let _ = rx.await;
        }));
        // No automatic redirects: the test looks at them.
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Server { base: format!("http://{addr}"), addr, http, _stop: tx }
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    /// Sends `target` exactly as written (a client library would normalise
    /// `..` away) and answers the status and the whole response as text.
    async fn raw(&self, target: &str) -> (u16, String) {
        let mut tcp = TcpStream::connect(self.addr).await.unwrap();
        let request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await.unwrap().unwrap();
        let answer = String::from_utf8_lossy(&answer).to_string();
        let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{answer}"));
        (status, answer)
    }
}

fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get(name).map(|v| v.to_str().unwrap().to_string())
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("a gzip stream");
    out
}

/// The values of `attr="…"` in `html`.
fn attributes<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!(" {attr}=\"");
    html.match_indices(&needle)
        .map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            &rest[..rest.find('"').expect("a closing quote")]
        })
        .collect()
}

/// The content type a browser needs for a file, by its extension alone.
fn expected_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("woff2") => "font/woff2",
        other => panic!("index.html references a file of an unexpected type: {path} ({other:?})"),
    }
}

#[tokio::test]
async fn the_page_and_every_file_it_references_load() {
    let s = Server::start().await;
    let page = s.get("/app/", &[]).await;
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "content-type").as_deref(), Some("text/html; charset=utf-8"));
    assert_eq!(header(&page, "cache-control").as_deref(), Some("no-cache"));
    assert_eq!(header(&page, "x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(header(&page, "content-security-policy").as_deref(), Some(loyalty_app::CONTENT_SECURITY_POLICY));
    assert!(header(&page, "etag").is_some_and(|t| t.starts_with('"')));
    assert_eq!(header(&page, "content-encoding"), None, "no gzip unless asked");
    let html = page.text().await.unwrap();
    assert!(html.contains("<div id=\"root\">") || html.contains("<body"), "{html}");
    assert_eq!(s.get("/app/index.html", &[]).await.text().await.unwrap(), html);

    let mut local = Vec::new();
    for url in attributes(&html, "src").into_iter().chain(attributes(&html, "href")) {
        if url.starts_with("https://") {
            // The one script from elsewhere, which the CSP allows.
            assert_eq!(url, "https://telegram.org/js/telegram-web-app.js");
            continue;
        }
        assert!(
            !url.starts_with('/') && !url.contains("://"),
            "{url}: relative, so the page works under /app/ or elsewhere"
        );
        local.push(url.strip_prefix("./").unwrap_or(url));
    }
    assert!(local.iter().any(|u| u.ends_with(".js")), "the page loads its script: {html}");
    for path in local {
        let res = s.get(&format!("/app/{path}"), &[]).await;
        assert_eq!(res.status(), 200, "/app/{path}");
        assert_eq!(header(&res, "content-type").as_deref(), Some(expected_type(path)), "/app/{path}");
        assert_eq!(header(&res, "x-content-type-options").as_deref(), Some("nosniff"));
        if path.starts_with("assets/") {
            assert_eq!(header(&res, "cache-control").as_deref(), Some("public, max-age=31536000, immutable"));
        }
        assert_eq!(header(&res, "content-security-policy"), None, "the policy is the page's");
        let body = res.bytes().await.unwrap();
        assert_eq!(&body[..], loyalty_app::asset(path).unwrap().bytes(), "/app/{path}");
    }
}

/// The CSP is checked against the built page: no inline script, style or
/// event handler in index.html, whose policy would refuse them.
#[test]
fn the_policy_fits_the_built_page() {
    let html = std::str::from_utf8(loyalty_app::asset("index.html").expect("the page is embedded").bytes()).unwrap();
    for (at, _) in html.match_indices("<script") {
        let tag = &html[at..at + html[at..].find('>').unwrap()];
        assert!(tag.contains(" src="), "an inline script, which the policy refuses: {tag}");
    }
    assert!(!html.contains("<style"), "an inline <style>, which the policy refuses");
    assert!(!html.contains(" style=\""), "an inline style attribute, which the policy refuses");
    assert!(!html.contains(" onload=") && !html.contains(" onclick="), "an inline handler, which the policy refuses");
    for url in attributes(html, "src").into_iter().chain(attributes(html, "href")) {
        assert!(!url.contains("://") || url.starts_with("https://telegram.org/"), "{url}: not allowed by the policy");
    }
    // No 'unsafe-eval' either: the scripts build no code from strings.
    let scripts = loyalty_app::assets().iter().filter(|a| a.content_type().starts_with("text/javascript"));
    for script in scripts {
        let text = String::from_utf8_lossy(script.bytes());
        for eval in ["eval(", "new Function("] {
            assert!(!text.contains(eval), "{}: {eval}, which the policy refuses", script.path());
        }
    }
}

#[tokio::test]
async fn gzip_when_the_client_takes_it() {
    let s = Server::start().await;
    for asset in loyalty_app::assets() {
        let path = format!("/app/{}", asset.path());
        let res = s.get(&path, &[("accept-encoding", "br, gzip")]).await;
        assert_eq!(res.status(), 200, "{path}");
        match asset.gzip() {
            Some(gz) => {
                assert_eq!(header(&res, "content-encoding").as_deref(), Some("gzip"), "{path}");
                assert_eq!(header(&res, "vary").as_deref(), Some("Accept-Encoding"), "{path}");
                assert_eq!(header(&res, "etag").as_deref(), asset.gzip_etag(), "{path}");
                assert_eq!(header(&res, "content-length"), Some(gz.len().to_string()));
                let body = res.bytes().await.unwrap();
                assert_eq!(gunzip(&body), asset.bytes(), "{path}");
            }
            None => assert_eq!(header(&res, "content-encoding"), None, "{path}"),
        }
    }
    let page = loyalty_app::asset("").unwrap();
    assert!(page.gzip().is_some(), "the page compresses");
    for refused in ["gzip;q=0", "identity", "br", "*, gzip;q=0"] {
        let res = s.get("/app/", &[("accept-encoding", refused)]).await;
        assert_eq!(header(&res, "content-encoding"), None, "{refused}");
        assert_eq!(header(&res, "vary").as_deref(), Some("Accept-Encoding"));
        assert_eq!(header(&res, "etag").as_deref(), Some(page.etag()));
        assert_eq!(&res.bytes().await.unwrap()[..], page.bytes(), "{refused}");
    }
}

#[tokio::test]
async fn if_none_match_answers_304() {
    let s = Server::start().await;
    let first = s.get("/app/", &[]).await;
    let etag = header(&first, "etag").unwrap();
    let again = s.get("/app/", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag").as_deref(), Some(etag.as_str()));
    assert_eq!(header(&again, "cache-control").as_deref(), Some("no-cache"));
    assert!(again.bytes().await.unwrap().is_empty());

    // The gzip copy's tag, a list, a weak form, and `*` all match; another tag does not.
    let gz = s.get("/app/", &[("accept-encoding", "gzip")]).await;
    let gz_etag = header(&gz, "etag").unwrap();
    assert_ne!(gz_etag, etag, "another representation, another tag");
    let list = format!("\"other\", {gz_etag}");
    let weak = format!("W/{etag}");
    for tags in [gz_etag.as_str(), &list, &weak, "*"] {
        let res = s.get("/app/", &[("accept-encoding", "gzip"), ("if-none-match", tags)]).await;
        assert_eq!(res.status(), 304, "{tags}");
        assert_eq!(header(&res, "etag").as_deref(), Some(gz_etag.as_str()));
    }
    let stale = s.get("/app/", &[("if-none-match", "\"0123456789abcdef0123456789abcdef\"")]).await;
    assert_eq!(stale.status(), 200);
    assert_eq!(&stale.bytes().await.unwrap()[..], loyalty_app::asset("").unwrap().bytes());
}

#[tokio::test]
async fn head_answers_the_headers_alone() {
    let s = Server::start().await;
    let page = loyalty_app::asset("").unwrap();
    let res = s.http.head(format!("{}/app/", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type").as_deref(), Some("text/html; charset=utf-8"));
    assert_eq!(header(&res, "content-length"), Some(page.bytes().len().to_string()));
    assert_eq!(header(&res, "etag").as_deref(), Some(page.etag()));
    assert!(res.bytes().await.unwrap().is_empty());
    let (status, answer) = s.raw("/app/").await;
    assert_eq!(status, 200);
    assert!(answer.ends_with(std::str::from_utf8(page.bytes()).unwrap()));
    let post = s.http.post(format!("{}/app/", s.base)).send().await.unwrap();
    assert_eq!(post.status(), 405);
}

#[tokio::test]
async fn app_without_a_slash_redirects_with_its_query() {
    let s = Server::start().await;
    for (from, to) in [
        ("/app", "/app/"),
        ("/app?mode=partner", "/app/?mode=partner"),
        ("/app?mode=admin&x=1", "/app/?mode=admin&x=1"),
    ] {
        let res = s.get(from, &[]).await;
        assert_eq!(res.status(), 308, "{from}");
        assert_eq!(header(&res, "location").as_deref(), Some(to), "{from}");
    }
    let query = s.get("/app/?mode=partner", &[]).await;
    assert_eq!(query.status(), 200);
    assert_eq!(header(&query, "content-type").as_deref(), Some("text/html; charset=utf-8"));
}

#[tokio::test]
async fn nothing_outside_the_page_is_reachable() {
    let s = Server::start().await;
    let targets = [
        "/app/../Cargo.toml",
        "/app/../../Cargo.toml",
        "/app/assets/../../Cargo.toml",
        "/app/../loyalty-app/dist/app/index.html",
        "/app/%2e%2e/Cargo.toml",
        "/app/%2E%2E/%2E%2E/Cargo.toml",
        "/app/..%2fCargo.toml",
        "/app/%2e%2e%2fCargo.toml",
        "/app/.%2e/Cargo.toml",
        "/app/..\\Cargo.toml",
        "/app/..%5cCargo.toml",
        "/app/%5c..%5c..%5cCargo.toml",
        "/app/../../../../../../etc/passwd",
        "/app//etc/passwd",
        "/app/%2fetc%2fpasswd",
        "/app/./index.html",
        "/app/assets/./../index.html",
        "/app/build.rs",
        "/app/src/lib.rs",
        "/app/Cargo.toml",
    ];
    for target in targets {
        let (status, answer) = s.raw(target).await;
        assert!(status == 404 || status == 400, "{target}: {status}");
        for leak in ["[package]", "[workspace]", "root:", "fn main", "<!doctype", "<html"] {
            assert!(!answer.to_ascii_lowercase().contains(&leak.to_ascii_lowercase()), "{target}: {answer}");
        }
    }
}

#[tokio::test]
async fn odd_or_huge_paths_are_a_clean_404() {
    let s = Server::start().await;
    let huge = format!("/app/{}", "a".repeat(16 * 1024));
    let deep = format!("/app/{}index.html", "assets/".repeat(1000));
    let odd = [
        huge.as_str(),
        deep.as_str(),
        "/app/%00",
        "/app/index.html%00",
        "/app/%ff%fe",
        "/app/%",
        "/app/index.html/",
        "/app/INDEX.HTML",
        "/app/assets",
        "/app/assets/",
        "/app/;",
        "/app/~",
        "/app/%20",
        "/app/index.html;.js",
        "/app/nope.js",
        "/apps/",
        "/app.html",
    ];
    for target in odd {
        let (status, answer) = s.raw(target).await;
        assert_eq!(status, 404, "{}: {answer}", &target[..target.len().min(80)]);
        assert!(answer.contains("\"not_found\""), "{}: {answer}", &target[..target.len().min(80)]);
    }
}

#[tokio::test]
async fn the_api_is_untouched() {
    let s = Server::start().await;
    let doc = s.get("/api/v1/openapi.json", &[]).await;
    assert_eq!(doc.status(), 200);
    assert!(header(&doc, "content-type").is_some_and(|t| t.starts_with("application/json")));
    assert_eq!(header(&doc, "content-security-policy"), None);
    let doc: serde_json::Value = doc.json().await.unwrap();
    assert!(doc["paths"].get("/api/v1/me").is_some(), "the OpenAPI document");
    let unknown = s.get("/api/v1/app/index.html", &[]).await;
    assert_eq!(unknown.status(), 404);
    assert!(header(&unknown, "content-type").is_some_and(|t| t.starts_with("application/json")));
    let me = s.get("/api/v1/me", &[]).await;
    assert_eq!(me.status(), 401, "the API still asks who is calling");
    assert_eq!(s.get("/health", &[]).await.status(), 200);
}
