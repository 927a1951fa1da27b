//! An axum app served on port 0 for a test, as production serves it (with the peer's address).
//! The listener is bound before the server task is spawned, so requests can be sent
//! immediately.

use std::net::SocketAddr;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct TestServer {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(app: axum::Router) -> TestServer {
        Self::start_on(Self::listener().await, app).await
    }

    /// A listener on a free loopback port, for an app that must know its own address before
    /// it is built (where payment providers call it back).
    pub async fn listener() -> tokio::net::TcpListener {
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding port 0")
    }

    /// Serves `app` on `listener`.
    pub async fn start_on(listener: tokio::net::TcpListener, app: axum::Router) -> TestServer {
        let addr = listener.local_addr().expect("bound address");
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            // As in production: handlers see the peer's address (throttling per client).
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
            .expect("test server");
        });
        let client = crate::http_client();
        TestServer {
            addr,
            client,
            shutdown,
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request reaches the test server")
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
