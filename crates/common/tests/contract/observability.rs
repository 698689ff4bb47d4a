use axum::Router;
use axum::routing::get;

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_an_incoming_one() {
    let base = serve(common::observability::instrument(
        Router::new().route("/x", get(|| async { "x" })),
    ))
    .await;
    let http = reqwest::Client::new();
    let generated = http.get(format!("{base}/x")).send().await.unwrap();
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let kept = http
        .get(format!("{base}/x"))
        .header("x-request-id", "lb-123")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "lb-123");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let router = Router::new().route("/items/{id}", get(|| async { "item" }));
    let base = serve(common::observability::instrument(router)).await;
    let http = reqwest::Client::new();
    for id in ["a", "b", "c"] {
        assert!(
            http.get(format!("{base}/items/{id}"))
                .send()
                .await
                .unwrap()
                .status()
                .is_success()
        );
    }
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("http_requests_total") && l.contains("route=\"/items/{id}\""))
        .unwrap_or_else(|| panic!("no counter for the route template in:\n{text}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "{line}");
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "histogram missing"
    );
    assert!(
        !text.contains("route=\"/items/a\""),
        "raw paths must not become labels"
    );
}
