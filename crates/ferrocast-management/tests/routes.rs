//! The management routes over real cluster daemons (nodes on loopback in
//! one process), driven with `tower::ServiceExt::oneshot`: no HTTP socket,
//! except in the last test, which checks the server and its stop.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use ferrocast_actor::{ActorSystem, ActorSystemConfig};
use ferrocast_cluster::{Cluster, ClusterEvent, ClusterSettings, ClusterView, ShutdownReason};
use ferrocast_management::{ClusterMember, ClusterMembers, Management, Message, router};
use ferrocast_remote::{NodeAddress, Registry, RemoteConfig, Remoting};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

const WAIT: Duration = Duration::from_secs(20);

struct Node {
    system: ActorSystem,
    remoting: Remoting,
    cluster: Cluster,
}

impl Node {
    async fn start(seeds: &[NodeAddress], join: bool) -> Node {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let system = ActorSystem::new("app", ActorSystemConfig::default()).unwrap();
        let mut registry = Registry::new();
        Cluster::register(&mut registry).unwrap();
        let remoting = Remoting::start(&system, registry, RemoteConfig::bind("127.0.0.1", 0))
            .await
            .unwrap();
        let mut settings = ClusterSettings::fast_failover();
        settings.seed_nodes = if seeds.is_empty() {
            vec![remoting.address().clone()]
        } else {
            seeds.to_vec()
        };
        let cluster = Cluster::start(&remoting, settings).await.unwrap();
        if join {
            cluster.join_seed_nodes().unwrap();
        }
        Node {
            system,
            remoting,
            cluster,
        }
    }

    fn address(&self) -> NodeAddress {
        self.remoting.address().clone()
    }

    fn router(&self) -> Router {
        router(self.cluster.clone())
    }

    async fn wait(&self, what: &str, pred: impl FnMut(&ClusterView) -> bool) {
        if tokio::time::timeout(WAIT, self.cluster.wait_for(pred))
            .await
            .is_err()
        {
            panic!("{what} on {}: {:?}", self.address(), self.cluster.state());
        }
    }
}

async fn three_up() -> Vec<Node> {
    let a = Node::start(&[], true).await;
    let seeds = vec![a.address()];
    let b = Node::start(&seeds, true).await;
    let c = Node::start(&seeds, true).await;
    let nodes = vec![a, b, c];
    for n in &nodes {
        n.wait("all Up", |v| v.all_up(3)).await;
    }
    nodes
}

/// One request; the status and the body as text.
async fn call(
    router: Router,
    method: Method,
    uri: &str,
    form: Option<&str>,
) -> (StatusCode, String) {
    let mut req = Request::builder().method(method).uri(uri);
    let body = match form {
        Some(f) => {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(f.to_owned())
        }
        None => Body::empty(),
    };
    let resp = router.oneshot(req.body(body).unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn get_json<T: serde::de::DeserializeOwned>(router: Router, uri: &str) -> (StatusCode, T) {
    let (status, body) = call(router, Method::GET, uri, None).await;
    let parsed = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, parsed)
}

fn message(body: &str) -> String {
    serde_json::from_str::<Message>(body)
        .unwrap_or_else(|e| panic!("not a JSON message ({e}): {body}"))
        .message
}

/// `ferrocast://app@127.0.0.1:port`, percent-encoded for a path.
fn encoded(a: &NodeAddress) -> String {
    a.to_string()
        .replace(':', "%3A")
        .replace('/', "%2F")
        .replace('@', "%40")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alive_always_ready_only_when_up() {
    let node = Node::start(&[], false).await;
    let (s, body) = call(node.router(), Method::GET, "/alive", None).await;
    assert_eq!((s, body.as_str()), (StatusCode::OK, "OK"));
    let (s, body) = call(node.router(), Method::GET, "/ready", None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("not joined"), "{body}");
    // Before joining, this node knows no member, not even itself.
    let (s, m): (_, ClusterMembers) = get_json(node.router(), "/cluster/members").await;
    assert_eq!(s, StatusCode::OK);
    assert!(m.members.is_empty() && m.leader.is_none() && m.oldest.is_none());
    assert_eq!(m.self_node, node.address().to_string());

    // Joining over HTTP: this node's own address forms a new cluster.
    let form = format!("address={}", encoded(&node.address()));
    let (s, body) = call(node.router(), Method::POST, "/cluster/members", Some(&form)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(message(&body), format!("Joining {}", node.address()));
    node.wait("Up", |v| v.is_ready()).await;
    let (s, _) = call(node.router(), Method::GET, "/ready", None).await;
    assert_eq!(s, StatusCode::OK);
    node.system.terminate().await;
    let (s, body) = call(node.router(), Method::GET, "/ready", None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let (s, _) = call(node.router(), Method::GET, "/alive", None).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_typed_4xx_with_a_json_message() {
    let node = Node::start(&[], true).await;
    node.wait("Up", |v| v.is_ready()).await;
    let me = node.address();
    let unknown = NodeAddress::new("app", "127.0.0.1", 1);
    let cases: Vec<(Method, String, Option<&str>, StatusCode, &str)> = vec![
        (
            Method::GET,
            format!("/cluster/members/{}", encoded(&unknown)),
            None,
            StatusCode::NOT_FOUND,
            "not found",
        ),
        (
            Method::DELETE,
            format!("/cluster/members/{}", encoded(&unknown)),
            None,
            StatusCode::NOT_FOUND,
            "not found",
        ),
        (
            Method::DELETE,
            "/cluster/members/nonsense".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid member address",
        ),
        (
            Method::GET,
            "/cluster/members/127.0.0.1:1".into(),
            None,
            StatusCode::NOT_FOUND,
            "not found",
        ),
        (
            Method::GET,
            "/cluster/members/nonsense".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid member address",
        ),
        (
            Method::GET,
            "/cluster/members/app@host:notaport".into(),
            None,
            StatusCode::BAD_REQUEST,
            "port",
        ),
        (
            Method::GET,
            "/cluster/members/ferrocast%3A%2F%2F%40%40%40".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid remote address",
        ),
        // Invalid UTF-8 once percent-decoded.
        (
            Method::GET,
            "/cluster/members/%FF%FE".into(),
            None,
            StatusCode::BAD_REQUEST,
            "",
        ),
        (
            Method::PUT,
            format!("/cluster/members/{}", encoded(&unknown)),
            Some("operation=Leave"),
            StatusCode::NOT_FOUND,
            "not found",
        ),
        (
            Method::PUT,
            format!("/cluster/members/{}", encoded(&me)),
            Some("operation=Explode"),
            StatusCode::BAD_REQUEST,
            "Operation not supported",
        ),
        (
            Method::PUT,
            format!("/cluster/members/{}", encoded(&me)),
            Some("op=Leave"),
            StatusCode::BAD_REQUEST,
            "bad form",
        ),
        (
            Method::PUT,
            format!("/cluster/members/{}", encoded(&me)),
            None,
            StatusCode::BAD_REQUEST,
            "bad form",
        ),
        (
            Method::PUT,
            format!("/cluster/members/{}", encoded(&me)),
            Some("operation=%ZZ"),
            StatusCode::BAD_REQUEST,
            "Operation not supported",
        ),
        (
            Method::POST,
            "/cluster/members".into(),
            Some("address=not-an-address"),
            StatusCode::BAD_REQUEST,
            "invalid remote address",
        ),
        (
            Method::POST,
            "/cluster/members".into(),
            Some("nothing=here"),
            StatusCode::BAD_REQUEST,
            "bad form",
        ),
    ];
    for (method, uri, form, status, text) in cases {
        let (s, body) = call(node.router(), method.clone(), &uri, form).await;
        assert_eq!(s, status, "{method} {uri} {form:?}: {body}");
        assert!(
            message(&body).contains(text),
            "{method} {uri} {form:?}: {body}"
        );
    }
    // A form without the form content type is refused too.
    let req = Request::builder()
        .method(Method::PUT)
        .uri(format!("/cluster/members/{}", encoded(&me)))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"operation\":\"Leave\"}"))
        .unwrap();
    let resp = node.router().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // None of it touched the member.
    assert!(node.cluster.view().is_ready());
    node.system.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_listed_and_put_leave_makes_one_leave() {
    let nodes = three_up().await;
    let r = nodes[0].router();
    let (s, m): (_, ClusterMembers) = get_json(r.clone(), "/cluster/members").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(m.self_node, nodes[0].address().to_string());
    assert_eq!(m.members.len(), 3);
    assert!(
        m.members
            .iter()
            .all(|m| m.status == "Up" && m.roles.is_empty())
    );
    assert!(m.unreachable.is_empty());
    let leader = nodes[0].cluster.state().leader.unwrap();
    assert_eq!(m.leader, Some(leader.address.to_string()));
    let oldest = nodes[0]
        .cluster
        .view()
        .oldest(None)
        .unwrap()
        .unique_address
        .clone();
    assert_eq!(m.oldest, Some(oldest.address.to_string()));
    // The raw JSON carries Akka's names.
    let (_, raw): (_, serde_json::Value) = get_json(r.clone(), "/cluster/members").await;
    for key in ["selfNode", "leader", "oldest", "unreachable", "members"] {
        assert!(raw.get(key).is_some(), "{key} missing in {raw}");
    }
    assert!(raw["members"][0]["nodeUid"].is_string(), "{raw}");

    // One member, named four ways.
    let target = nodes[2].cluster.self_node().clone();
    let a = &target.address;
    for path in [
        encoded(a),
        a.to_string(),
        format!("{}@{}", a.system, a.host_port()),
        a.host_port(),
    ] {
        let (s, one): (_, ClusterMember) =
            get_json(r.clone(), &format!("/cluster/members/{path}")).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert_eq!(one.node, a.to_string());
        assert_eq!(one.node_uid, target.uid.to_string());
        assert_eq!(one.status, "Up");
    }

    // Leave, asked of another node (case-insensitive, like Akka).
    let (s, body) = call(
        r.clone(),
        Method::PUT,
        &format!("/cluster/members/{}", encoded(a)),
        Some("operation=leave"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(message(&body), format!("Leaving {a}"));
    assert_eq!(
        tokio::time::timeout(WAIT, nodes[2].cluster.when_stopped()).await,
        Ok(ShutdownReason::Removed)
    );
    nodes[0].wait("leaver removed", |v| v.all_up(2)).await;
    let (_, m): (_, ClusterMembers) = get_json(r.clone(), "/cluster/members").await;
    assert_eq!(m.members.len(), 2);
    let (s, _) = call(
        r.clone(),
        Method::GET,
        &format!("/cluster/members/{}", encoded(a)),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The leaver is not ready any more; its system shut down.
    let (s, _) = call(nodes[2].router(), Method::GET, "/ready", None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    tokio::time::timeout(WAIT, nodes[2].system.when_terminated())
        .await
        .expect("the leaver's system terminates");

    // Down, the other operation. Of two, the downed one may hear of its
    // removal before it applies the Down itself: either way it stops.
    let b = nodes[1].address();
    let mut events = nodes[0].cluster.subscribe().await.unwrap();
    let (s, body) = call(
        r.clone(),
        Method::PUT,
        &format!("/cluster/members/{}", b.host_port()),
        Some("operation=DOWN"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(message(&body), format!("Downing {b}"));
    assert!(
        tokio::time::timeout(WAIT, nodes[1].cluster.when_stopped())
            .await
            .is_ok()
    );
    nodes[0].wait("downed removed", |v| v.all_up(1)).await;
    let mut downed = false;
    while let Some(e) = events.try_next() {
        downed |= matches!(e, ClusterEvent::MemberDowned(m) if m.unique_address.address == b);
    }
    assert!(downed, "node 0 saw no MemberDowned for {b}");
    nodes[0].system.terminate().await;
}

/// A raw HTTP/1.0 GET: the status code.
async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<u16> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    let text = String::from_utf8_lossy(&out);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad answer {text:?}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_stops_in_coordinated_shutdown() {
    let node = Node::start(&[], true).await;
    node.wait("Up", |v| v.is_ready()).await;
    let http = Management::start(node.cluster.clone(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = http.local_addr();
    assert_eq!(http_get(addr, "/alive").await.unwrap(), 200);
    assert_eq!(http_get(addr, "/ready").await.unwrap(), 200);
    assert_eq!(http_get(addr, "/cluster/members").await.unwrap(), 200);
    assert_eq!(http_get(addr, "/no/such/path").await.unwrap(), 404);
    // A second endpoint on the same port is a typed error, not a panic.
    let again = Management::start(node.cluster.clone(), addr).await;
    assert!(matches!(
        again,
        Err(ferrocast_management::StartError::Bind { .. })
    ));
    node.system.terminate().await;
    // service-unbind waited for the server: nothing listens any more.
    assert!(http_get(addr, "/alive").await.is_err());
    // Too late to start another one.
    let late = Management::start(node.cluster.clone(), SocketAddr::from(([127, 0, 0, 1], 0))).await;
    assert!(matches!(
        late,
        Err(ferrocast_management::StartError::ShuttingDown)
    ));
    assert!(http.stop().await.is_ok());
}
