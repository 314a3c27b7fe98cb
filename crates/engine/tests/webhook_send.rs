//! One webhook attempt against local receivers: HTTPS trusted through `OZ_WEBHOOK_CA_FILE`, the
//! address guard (refusals happen before any connection is made), no redirects.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use oz_engine::webhook::{self, Attempt, WebhookConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

type Hits = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

fn cfg(allow_private: bool) -> WebhookConfig {
    WebhookConfig { allow_private, timeout: Duration::from_secs(5), ..WebhookConfig::default() }
}

/// `/hook` records and answers 200; `/redirect` answers 307 to `/hook`.
fn app(hits: Hits, base: String) -> Router {
    Router::new()
        .route(
            "/hook",
            axum::routing::post(move |h: HeaderMap, b: Bytes| {
                let hits = hits.clone();
                async move {
                    hits.lock().expect("lock").push((h, b));
                    StatusCode::OK
                }
            }),
        )
        .route(
            "/redirect",
            axum::routing::post(move || {
                let to = format!("{base}/hook");
                async move { (StatusCode::TEMPORARY_REDIRECT, [("Location", to)]) }
            }),
        )
}

async fn http_receiver() -> (String, Hits) {
    let hits: Hits = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = app(hits.clone(), base.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, hits)
}

/// A TCP listener that only counts the connections made to it.
async fn counting_listener(addr: &str) -> Option<(u16, Arc<AtomicUsize>)> {
    let listener = TcpListener::bind(addr).await.ok()?;
    let port = listener.local_addr().ok()?.port();
    let n = Arc::new(AtomicUsize::new(0));
    let seen = n.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            held.push(s);
        }
    });
    Some((port, n))
}

struct TlsListener {
    tcp: TcpListener,
    tls: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((s, a)) = self.tcp.accept().await else { continue };
            // A client that rejects our certificate fails the handshake: wait for the next.
            if let Ok(t) = self.tls.accept(s).await {
                return (t, a);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// A test CA (PEM) and an HTTPS receiver on 127.0.0.1 whose certificate (for `localhost` and
/// 127.0.0.1) that CA issued.
async fn https_receiver() -> (String, String, Hits) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "openoz test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).expect("leaf params");
    leaf.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    leaf.distinguished_name.push(DnType::CommonName, "localhost");
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("leaf cert");

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf_cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .expect("server config");
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = tcp.local_addr().expect("addr").port();
    let hits: Hits = Arc::default();
    let base = format!("https://localhost:{port}");
    let app = app(hits.clone(), base.clone());
    let listener = TlsListener { tcp, tls: TlsAcceptor::from(Arc::new(server)) };
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, ca_cert.pem(), hits)
}

#[tokio::test]
async fn https_delivery_trusts_the_ca_file() {
    let (base, ca_pem, hits) = https_receiver().await;
    let dir = std::env::temp_dir().join(format!("oz-webhook-ca-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &ca_pem).expect("write ca");
    let url = format!("{base}/hook");
    let body = r#"{"folder_id":"f","company_id":"c"}"#;

    // Without the CA the receiver's certificate is not trusted.
    let plain = cfg(true);
    let c = webhook::client(&plain).expect("client");
    match webhook::send(&c, &plain, &url, "ev-1", body, Some("k")).await {
        Attempt::Failed { status: None, error } => assert!(error.to_lowercase().contains("certificate"), "{error}"),
        other => panic!("an unknown CA must fail: {other:?}"),
    }
    assert!(hits.lock().expect("lock").is_empty());

    // With OZ_WEBHOOK_CA_FILE it is, and the signed body arrives over TLS.
    let with_ca = WebhookConfig { ca_file: Some(ca_file.clone()), ..cfg(true) };
    let c = webhook::client(&with_ca).expect("client with CA");
    match webhook::send(&c, &with_ca, &url, "ev-2", body, Some("k")).await {
        Attempt::Delivered(200) => {}
        other => panic!("HTTPS delivery: {other:?}"),
    }
    let got = hits.lock().expect("lock").clone();
    assert_eq!(got.len(), 1);
    let (h, b) = &got[0];
    assert_eq!(b.as_ref(), body.as_bytes());
    assert_eq!(h["x-oz-event-id"], "ev-2");
    let ts: i64 = h["x-oz-timestamp"].to_str().expect("ts").parse().expect("ts");
    assert!(webhook::verify("k", ts, b, h["x-oz-signature"].to_str().expect("sig")));

    // A CA file without certificates stops the start-up, with the path in the message.
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate").expect("write");
    let err = webhook::client(&WebhookConfig { ca_file: Some(junk), ..cfg(true) }).expect_err("junk CA file");
    assert!(err.to_string().contains("junk.pem"), "{err}");
    let err = webhook::client(&WebhookConfig { ca_file: Some(dir.join("missing.pem")), ..cfg(true) })
        .expect_err("missing CA file");
    assert!(err.to_string().contains("missing.pem"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn private_addresses_are_refused_before_connecting() {
    let (port, v4_hits) = counting_listener("127.0.0.1:0").await.expect("loopback listener");
    // The same port on ::1 when the machine has IPv6 loopback.
    let v6 = counting_listener(&format!("[::1]:{port}")).await;
    let guarded = cfg(false);
    let c = webhook::client(&guarded).expect("client");
    let mut urls = vec![
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://localhost:{port}/hook"),
        format!("http://[::1]:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        format!("http://[::ffff:7f00:1]:{port}/hook"),
        format!("http://2130706433:{port}/hook"),
        format!("http://127.1:{port}/hook"),
        format!("http://0.0.0.0:{port}/hook"),
        format!("https://localhost:{port}/hook"),
    ];
    // Never contacted for real: the guard refuses them before any connection.
    urls.extend(
        [
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/hook",
            "http://192.168.1.1/hook",
            "http://172.16.0.1/hook",
            "http://100.64.0.1/hook",
            "http://[fe80::1]/hook",
            "http://[fd00::1]/hook",
            "http://[::ffff:169.254.169.254]/hook",
            "http://[64:ff9b::a9fe:a9fe]/hook",
        ]
        .map(String::from),
    );
    for url in &urls {
        let started = std::time::Instant::now();
        match webhook::send(&c, &guarded, url, "ev", "{}", None).await {
            Attempt::Refused(e) => assert!(e.contains("refused"), "{url}: {e}"),
            other => panic!("{url} must be refused, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(4), "{url}: refused without waiting for a connection");
    }
    assert_eq!(v4_hits.load(Ordering::SeqCst), 0, "no connection to 127.0.0.1");
    if let Some((_, n)) = &v6 {
        assert_eq!(n.load(Ordering::SeqCst), 0, "no connection to ::1");
    }

    // The listener does count: with OZ_WEBHOOK_ALLOW_PRIVATE the same URL connects.
    let open = cfg(true);
    let c = webhook::client(&open).expect("client");
    let url = format!("http://127.0.0.1:{port}/hook");
    let r = webhook::send(&c, &open, &url, "ev", "{}", None);
    let _ = tokio::time::timeout(Duration::from_millis(500), r).await;
    assert_eq!(v4_hits.load(Ordering::SeqCst), 1);

    // Stored URLs with other schemes or user-info are refused at request time too.
    for url in ["ftp://example.com/x", "file:///etc/passwd", "http://user:pw@127.0.0.1:9/"] {
        assert!(matches!(webhook::send(&c, &open, url, "ev", "{}", None).await, Attempt::Refused(_)), "{url}");
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (base, hits) = http_receiver().await;
    let open = cfg(true);
    let c = webhook::client(&open).expect("client");
    match webhook::send(&c, &open, &format!("{base}/redirect"), "ev", "{}", None).await {
        Attempt::Failed { status: Some(307), .. } => {}
        other => panic!("a redirect is a failed attempt: {other:?}"),
    }
    assert!(hits.lock().expect("lock").is_empty(), "the redirect target was not contacted");
    assert!(matches!(
        webhook::send(&c, &open, &format!("{base}/hook"), "ev", "{}", None).await,
        Attempt::Delivered(200)
    ));
}
