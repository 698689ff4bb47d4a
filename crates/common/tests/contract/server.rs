use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Request, Uri, header};
use common::server::detach_upgrade_head;

const PATH: &str = "/socket.io/?EIO=4&transport=websocket";

/// Stands in for what hyper parses: a head whose URI and header values are slices of one
/// connection buffer.
fn parsed(buffer: &Bytes, upgrade: bool) -> Request<Body> {
    let at = |s: &str| {
        let start = std::str::from_utf8(buffer).unwrap().find(s).unwrap();
        buffer.slice(start..start + s.len())
    };
    let value = |s: &str| HeaderValue::from_maybe_shared(at(s)).unwrap();
    let mut req = Request::builder()
        .uri(Uri::from_maybe_shared(at(PATH)).unwrap())
        .body(Body::empty())
        .unwrap();
    let headers = req.headers_mut();
    if upgrade {
        headers.insert(header::UPGRADE, value("websocket"));
        headers.insert(header::ORIGIN, value("https://chat.example"));
    }
    headers.append(header::ACCEPT, value("text/plain"));
    headers.append(header::ACCEPT, value("application/json"));
    let mut secret = value("Bearer abc");
    secret.set_sensitive(true);
    headers.insert(header::AUTHORIZATION, secret);
    req
}

fn buffer() -> Bytes {
    Bytes::from(format!(
        "GET {PATH} websocket https://chat.example text/plain application/json Bearer abc"
    ))
}

fn inside(buffer: &Bytes, s: &[u8]) -> bool {
    buffer.as_ptr_range().contains(&s.as_ptr())
}

#[test]
fn an_upgrade_request_keeps_what_is_read_but_not_the_connection_buffer() {
    let buffer = buffer();
    let req = detach_upgrade_head(parsed(&buffer, true));

    assert_eq!(req.uri(), PATH);
    assert!(!inside(&buffer, req.uri().path().as_bytes()));
    assert_eq!(req.headers()[header::UPGRADE], "websocket");
    assert_eq!(req.headers()[header::ORIGIN], "https://chat.example");
    // Read by nothing after the upgrade, so not kept with the socket.
    assert!(!req.headers().contains_key(header::ACCEPT));
    assert!(!req.headers().contains_key(header::AUTHORIZATION));
    assert_eq!(req.headers().len(), 2);
    for value in req.headers().values() {
        assert!(
            !inside(&buffer, value.as_bytes()),
            "{value:?} still points into the buffer"
        );
    }
}

#[test]
fn other_requests_pass_through_untouched() {
    let buffer = buffer();
    let req = detach_upgrade_head(parsed(&buffer, false));

    assert!(inside(&buffer, req.uri().path().as_bytes()));
    assert_eq!(req.headers().len(), 3);
    assert!(
        req.headers()
            .values()
            .all(|v| inside(&buffer, v.as_bytes()))
    );
}
