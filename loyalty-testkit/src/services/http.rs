//! Raw HTTP/1.1 over loopback, for what `reqwest` cannot send deterministically.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends a POST whose `Content-Length` declares `declared` bytes and none of the body, and returns
/// the answer's status and body. A server must refuse such a request on the declared length alone;
/// a client that also wrote the body would race the server closing the connection on it (a broken
/// pipe instead of the answer). A status of 0 means no answer came within 10 s.
pub async fn declared_oversize(url: &str, headers: &[(&str, &str)], declared: usize) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (addr, path) = rest.split_at(rest.find('/').expect("a path"));
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut head = format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {declared}\r\n\r\n"));
    stream.write_all(head.as_bytes()).await.expect("write the head");
    read_answer(&mut stream).await
}

/// POSTs a body of `total` bytes to `url` with `headers` in chunks
/// (`Transfer-Encoding: chunked`, so no `Content-Length` says how large it is),
/// and returns the status and body of the answer. The body is written while
/// the answer is awaited: a server that stops reading early (as it should,
/// past its limit) answers without taking all of it.
pub async fn chunked_oversize(url: &str, headers: &[(&str, &str)], total: usize) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (addr, path) = rest.split_at(rest.find('/').expect("a path"));
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut head = format!("POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("transfer-encoding: chunked\r\n\r\n");
    let (mut reader, mut writer) = stream.into_split();
    let write = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            let n = chunk.len().min(total - sent);
            writer.write_all(format!("{n:x}\r\n").as_bytes()).await?;
            writer.write_all(&chunk[..n]).await?;
            writer.write_all(b"\r\n").await?;
            sent += n;
        }
        writer.write_all(b"0\r\n\r\n").await
    });
    let answer = read_answer(&mut reader).await;
    // The server may close before taking all of it: that is its right.
    write.abort();
    answer
}

/// Reads one HTTP/1.1 answer (its head and `Content-Length` bytes of body, or
/// until the connection ends or 10 s pass) and returns its status and body.
async fn read_answer(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> (u16, String) {
    let mut answer = Vec::new();
    let mut piece = [0u8; 4096];
    let complete = |answer: &[u8]| {
        let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
        let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|n| n.trim().parse::<usize>().ok())
            .unwrap_or(0);
        answer.len() >= end + 4 + length
    };
    while !complete(&answer) {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut piece)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&piece[..n]),
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}
