//! A real headless Chromium for the portal's browser tests: Debian's `chromium`, driven through
//! Debian's `chromedriver` (WebDriver, by `fantoccini`), one browser per [`Browser`], and the
//! axe-core accessibility checks run inside the page ([`Browser::axe`]). [`Browser::start_phone`]
//! emulates a 360 px phone, where [`Browser::phone_layout_problems`] finds sideways scrolling
//! and controls smaller than a fingertip.
//!
//! [`Browser::start`] runs chromedriver on a free loopback port (in its own process group, so
//! that the Chromium it launches goes with it), waits until its `/status` says ready, and opens
//! a session with a new empty profile in a temporary folder. Dropping the value ends the
//! session, kills chromedriver and Chromium and removes the profile; [`Browser::close`] does the
//! same politely.
//!
//! Every helper waits for what it needs (an element, a new page, a text) up to [`TIMEOUT`] by
//! polling; none sleeps a fixed time. Helpers panic with the page's address and a reason: they
//! are test assertions.
//!
//! What it needs, installed by `scripts/test.sh` (through `scripts/test-tools.sh`):
//! - `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's `chromium`, `chromium-driver`);
//! - axe-core's `axe.min.js`, found at `$EBOK_AXE_JS` if set, else at
//!   `<data folder>/test-tools/node_modules/axe-core/axe.min.js`, where the data folder is
//!   `$EBOK__STACK__DATA_DIR` (relative to the workspace) or one of the usual `.ebok/test-stack`
//!   and `.ebok`. When something is missing, [`Browser::start`] panics saying so: browser tests
//!   never pass silently.
//!
//! WebDriver speaks plain HTTP to chromedriver on loopback, so no TLS stack (and no second
//! rustls crypto provider) is compiled in.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Deserialize;
use serde_json::{Value, json};

/// Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's ChromeDriver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Overrides where `axe.min.js` is looked for.
pub const AXE_ENV: &str = "EBOK_AXE_JS";
/// How long a helper waits for an element, a page or a text.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long chromedriver and Chromium may take to start (a cold start on a busy machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(25);

/// The flags Chromium needs on these machines: headless, as root, with no network of its own
/// (background connections are refused here and slow every start).
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// The width of the smallest phone screen the portal must fit, in CSS pixels.
pub const PHONE_WIDTH: u32 = 360;
/// The smallest touch target, in CSS pixels (WCAG 2.5.5, as Apple's and Google's guidelines).
pub const TOUCH_TARGET: u32 = 44;

/// The page's layout problems on a phone: a list of sentences, empty when there are none.
/// Sideways scrolling (the document wider than the screen, with the elements that stick out),
/// and controls smaller than a fingertip. Links inside running text are exempt, as WCAG 2.5.5
/// exempts them; so is what is not shown (the skip link until focused, visually hidden text).
const PHONE_LAYOUT_CHECK: &str = r#"
const [target] = arguments;
const doc = document.documentElement;
const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
  (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : '') +
  (e.name ? '[name=' + e.name + ']' : '') +
  ' "' + (e.innerText || e.value || '').trim().replace(/\s+/g, ' ').slice(0, 40) + '"';
const problems = [];
if (doc.scrollWidth !== doc.clientWidth) {
  const out = [...document.body.querySelectorAll('*')]
    .filter(e => e.getBoundingClientRect().right > doc.clientWidth + 0.5)
    .filter(e => !e.parentElement || e.parentElement.getBoundingClientRect().right <= doc.clientWidth + 0.5)
    .slice(0, 5).map(e => name(e) + ' ends at ' + Math.round(e.getBoundingClientRect().right) + ' px');
  problems.push('scrolls sideways: scrollWidth ' + doc.scrollWidth + ' != clientWidth ' +
    doc.clientWidth + '; sticking out: ' + out.join('; '));
}
const inSentence = e => getComputedStyle(e).display === 'inline' && e.parentElement &&
  e.parentElement.innerText.trim().length > e.innerText.trim().length;
for (const e of document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary')) {
  const r = e.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  if (r.right <= 0 || r.bottom <= 0 || e.closest('.visually-hidden')) continue;
  if (e.tagName === 'A' && inSentence(e)) continue;
  if (r.width < target - 0.5 || r.height < target - 0.5) {
    problems.push(name(e) + ' is ' + Math.round(r.width) + '×' + Math.round(r.height) + ' px');
  }
}
return problems;
"#;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Screen {
    Desktop,
    Phone,
}

/// The WCAG levels the accessibility check covers (WCAG 2.1 AA).
const AXE_TAGS: &[&str] = &["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

const RUN_THE_TESTS: &str = "run the tests with scripts/test.sh (its scripts/test-tools.sh installs \
                             Chromium, ChromeDriver and axe-core)";

/// One problem axe-core found on a page.
#[derive(Debug, Clone, Deserialize)]
pub struct AxeViolation {
    /// The rule, e.g. `color-contrast`, `label`.
    pub id: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: String,
    /// What the rule wants, in one sentence.
    pub help: String,
    /// The offending elements: selector, markup and axe's summary of what is wrong.
    pub nodes: Vec<String>,
}

impl AxeViolation {
    /// Serious or critical: what the portal must never have.
    pub fn is_serious(&self) -> bool {
        matches!(self.impact.as_str(), "serious" | "critical")
    }
}

impl std::fmt::Display for AxeViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "[{}] {}: {}", self.impact, self.id, self.help)?;
        for node in &self.nodes {
            writeln!(f, "    - {node}")?;
        }
        Ok(())
    }
}

/// A headless Chromium with one WebDriver session. See the module doc.
pub struct Browser {
    client: Client,
    driver: Child,
    driver_port: u16,
    session: Option<String>,
    /// The profile and chromedriver's log; removed on drop, after the processes are gone.
    _dir: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and Chromium with a new empty profile, as a desktop browser (a
    /// 1280×900 window). Panics when they are not installed, or do not start within a minute
    /// (with chromedriver's log).
    pub async fn start() -> Browser {
        Self::start_as(Screen::Desktop).await
    }

    /// Like [`Browser::start`], as a phone: Chromium's mobile emulation of a screen
    /// [`PHONE_WIDTH`] CSS pixels wide, with touch, which honours the page's viewport meta tag
    /// as a phone does. [`Browser::phone_layout_problems`] checks a page on it.
    pub async fn start_phone() -> Browser {
        Self::start_as(Screen::Phone).await
    }

    async fn start_as(screen: Screen) -> Browser {
        for (program, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            if !Path::new(program).is_file() {
                panic!("{program} not found (Debian's package `{package}`): {RUN_THE_TESTS}");
            }
        }
        axe_source();
        let dir = tempfile::Builder::new()
            .prefix("ebok-browser-")
            .tempdir()
            .expect("creating a temporary folder for the browser");
        let profile = dir.path().join("profile");
        std::fs::create_dir(&profile).expect("creating the browser profile folder");

        let (driver, driver_port) = start_driver(dir.path()).await;
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let mut capabilities = Capabilities::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        let mut options = json!({ "binary": CHROMIUM, "args": args });
        if screen == Screen::Phone {
            options["mobileEmulation"] = json!({
                "deviceMetrics": { "width": PHONE_WIDTH, "height": 740, "pixelRatio": 3.0, "touch": true },
            });
        }
        capabilities.insert("goog:chromeOptions".into(), options);
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let url = format!("http://127.0.0.1:{driver_port}");
        let client = match tokio::time::timeout(START_TIMEOUT, builder.connect(&url)).await {
            Ok(Ok(client)) => client,
            outcome => {
                let mut driver = driver;
                kill_group(&mut driver);
                let reason = match outcome {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no session within {START_TIMEOUT:?}"),
                };
                panic!(
                    "Chromium did not start: {reason}\nchromedriver's log:\n{}",
                    tail(&dir.path().join("chromedriver.log"), 30)
                );
            }
        };
        let session = client.session_id().await.ok().flatten();
        Browser {
            client,
            driver,
            driver_port,
            session,
            _dir: dir,
        }
    }

    /// The underlying WebDriver client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url` and waits until it has loaded.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// The address of the page shown now.
    pub async fn current_url(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("reading the current address")
            .to_string()
    }

    /// The path of the page shown now, without the query, e.g. `/u/mlynary/pulpit`.
    pub async fn current_path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("reading the current address")
            .path()
            .to_string()
    }

    /// The path with the query of the page shown now, e.g. `/u/mlynary/logowanie?aktywowano=1`.
    pub async fn current_path_and_query(&self) -> String {
        let url = self
            .client
            .current_url()
            .await
            .expect("reading the current address");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// The page's markup as the browser has it now.
    pub async fn html(&self) -> String {
        self.client.source().await.expect("reading the page source")
    }

    /// Waits for the first element matching `css`.
    pub async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(TIMEOUT)
            .every(POLL)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!(
                "no element `{css}` on {} within {TIMEOUT:?} ({e}); the page says:\n{}",
                self.current_url().await,
                self.page_text().await
            ),
        }
    }

    /// Whether an element matching `css` is on the page now (no waiting).
    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
            .is_empty()
    }

    /// The visible text of the first element matching `css` (waiting for it to appear).
    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        element
            .text()
            .await
            .unwrap_or_else(|e| panic!("reading the text of `{css}`: {e}"))
    }

    /// Waits until the first element matching `css` contains `needle` in its visible text;
    /// returns that text.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(needle) {
                return text;
            }
            if Instant::now() >= deadline {
                panic!(
                    "`{css}` on {} did not show {needle:?} within {TIMEOUT:?}; it shows {text:?}; \
                     the page says:\n{}",
                    self.current_url().await,
                    self.page_text().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Sets the form field named `name` (the first one that is not hidden) as a user would:
    /// types into text fields, picks the option of a `<select>` by its value, sets date and
    /// time fields, ticks a checkbox or radio button when `value` is not empty. The field keeps
    /// the focus, so [`Browser::click_submit`] submits its form.
    pub async fn fill(&self, name: &str, value: &str) {
        let css = format!(r#"[name="{name}"]:not([type="hidden"])"#);
        let element = self.find(&css).await;
        let tag = element.tag_name().await.unwrap_or_default();
        let kind = element
            .attr("type")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let result = if tag.eq_ignore_ascii_case("select") {
            element.select_by_value(value).await
        } else {
            match kind.as_str() {
                "checkbox" | "radio" => {
                    let checked = element.is_selected().await.unwrap_or(false);
                    let wanted = !value.is_empty();
                    if checked != wanted {
                        element.click().await
                    } else {
                        Ok(())
                    }
                }
                // Typing into these depends on the browser's locale; set them as a picker does.
                "date" | "time" | "datetime-local" | "month" | "week" | "color" | "range" => self
                    .client
                    .execute(
                        "const [el, v] = arguments; el.value = v; \
                         el.dispatchEvent(new Event('input', {bubbles: true})); \
                         el.dispatchEvent(new Event('change', {bubbles: true}));",
                        vec![element_json(&element), json!(value)],
                    )
                    .await
                    .map(drop),
                _ => match element.clear().await {
                    Ok(()) => element.send_keys(value).await,
                    Err(e) => Err(e),
                },
            }
        };
        result.unwrap_or_else(|e| panic!("filling `{name}` with {value:?}: {e}"));
        self.client
            .execute("arguments[0].focus();", vec![element_json(&element)])
            .await
            .unwrap_or_else(|e| panic!("focusing `{name}`: {e}"));
    }

    /// Ticks the checkbox named `name`.
    pub async fn check(&self, name: &str) {
        self.fill(name, "on").await;
    }

    /// Clicks the submit button of the form that holds the focused field (the last one
    /// [`Browser::fill`]ed), or of the first form in `<main>`, and waits for the page that
    /// answers.
    pub async fn click_submit(&self) {
        let found = self
            .client
            .execute(
                "const active = document.activeElement; \
                 const form = (active && active.form) || document.querySelector('main form'); \
                 if (!form) return false; \
                 const button = form.querySelector('button[type=submit], input[type=submit], button:not([type])'); \
                 if (!button) return false; \
                 document.querySelectorAll('[data-ebok-test-submit]').forEach(b => b.removeAttribute('data-ebok-test-submit')); \
                 button.setAttribute('data-ebok-test-submit', ''); \
                 return true;",
                vec![],
            )
            .await
            .expect("looking for the submit button");
        if found != json!(true) {
            panic!(
                "no form with a submit button on {}; the page says:\n{}",
                self.current_url().await,
                self.page_text().await
            );
        }
        self.click_and_wait("[data-ebok-test-submit]").await;
    }

    /// Clicks the submit button of the form matching `form_css` and waits for the next page.
    pub async fn submit(&self, form_css: &str) {
        self.click_and_wait(&format!(
            "{form_css} button[type=submit], {form_css} input[type=submit]"
        ))
        .await;
    }

    /// Clicks the first element matching `css` (a link, a button) and waits until another page
    /// has loaded in its place.
    pub async fn click_and_wait(&self, css: &str) {
        let element = self.find(css).await;
        self.client
            .execute("window.__ebokTestOldPage = true;", vec![])
            .await
            .expect("marking the current page");
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking `{css}`: {e}"));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let loaded = self
                .client
                .execute(
                    "return window.__ebokTestOldPage === undefined \
                     && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            // An error here means the old page is being replaced: poll again.
            if matches!(loaded, Ok(Value::Bool(true))) {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "clicking `{css}` on {} led to no new page within {TIMEOUT:?}",
                    self.current_url().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs axe-core's WCAG 2.1 A and AA rules on the page shown now and returns what it found.
    pub async fn axe(&self) -> Vec<AxeViolation> {
        let present = self
            .client
            .execute("return typeof window.axe === 'object';", vec![])
            .await
            .expect("checking for axe-core");
        if present != json!(true) {
            self.client
                .execute(axe_source(), vec![])
                .await
                .expect("injecting axe-core");
        }
        let result = self
            .client
            .execute_async(
                "const [tags, done] = arguments; \
                 axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']}) \
                   .then(r => done({violations: r.violations.map(v => ({ \
                     id: v.id, impact: v.impact || 'unknown', help: v.help, \
                     nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.html.slice(0, 200) \
                       + (n.failureSummary ? ' (' + n.failureSummary.replace(/\\s+/g, ' ') + ')' : '')) \
                   }))})) \
                   .catch(e => done({error: String(e)}));",
                vec![json!(AXE_TAGS)],
            )
            .await
            .expect("running axe-core");
        if let Some(error) = result.get("error") {
            panic!("axe-core failed on {}: {error}", self.current_url().await);
        }
        serde_json::from_value(result["violations"].clone()).expect("axe-core's violations")
    }

    /// Fails the test listing every serious or critical accessibility problem of the page
    /// shown now. `page_name` names the page in the message.
    pub async fn assert_no_serious_violations(&self, page_name: &str) {
        let serious: Vec<AxeViolation> = self
            .axe()
            .await
            .into_iter()
            .filter(AxeViolation::is_serious)
            .collect();
        if !serious.is_empty() {
            let list: String = serious.iter().map(ToString::to_string).collect();
            panic!(
                "{page_name} ({}) has {} serious or critical accessibility violation(s):\n{list}",
                self.current_url().await,
                serious.len()
            );
        }
    }

    /// The layout problems of the page shown now on a phone, one sentence each (none: empty).
    pub async fn phone_layout_problems(&self) -> Vec<String> {
        let problems = self
            .client
            .execute(PHONE_LAYOUT_CHECK, vec![json!(TOUCH_TARGET)])
            .await
            .expect("checking the layout");
        serde_json::from_value(problems).expect("the layout check's list")
    }

    /// Ends the session (Chromium quits) and stops chromedriver.
    pub async fn close(mut self) {
        if self.client.clone().close().await.is_ok() {
            self.session = None;
        }
    }

    /// The visible text of the page, shortened, for failure messages.
    async fn page_text(&self) -> String {
        let text = self
            .client
            .execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        text.chars().take(1500).collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Politely first: deleting the session makes chromedriver quit Chromium.
        if let Some(session) = self.session.take() {
            delete_session(self.driver_port, &session);
        }
        kill_group(&mut self.driver);
    }
}

/// Starts chromedriver on a free loopback port and waits until `/status` says it is ready.
/// Another process may take the port between choosing and binding it: then try another.
async fn start_driver(dir: &Path) -> (Child, u16) {
    let log_path = dir.join("chromedriver.log");
    let client = crate::http_client();
    for _ in 0..3 {
        let port = free_port();
        let log = std::fs::File::create(&log_path).expect("creating the chromedriver log");
        let mut child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            // Its own process group: Chromium, its child, is killed with it.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {CHROMEDRIVER}: {e} ({RUN_THE_TESTS})"));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if child.try_wait().ok().flatten().is_some() {
                break; // exited: most likely the port was taken; try another
            }
            let status = client
                .get(format!("http://127.0.0.1:{port}/status"))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if let Ok(response) = status
                && let Ok(body) = response.json::<Value>().await
                && body["value"]["ready"] == json!(true)
            {
                return (child, port);
            }
            if Instant::now() >= deadline {
                kill_group(&mut child);
                panic!(
                    "chromedriver did not become ready within {START_TIMEOUT:?}; its log:\n{}",
                    tail(&log_path, 30)
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }
    panic!(
        "chromedriver exited at start three times; its log:\n{}",
        tail(&log_path, 30)
    );
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("finding a free loopback port")
        .port()
}

/// `DELETE /session/{id}` over a blocking socket (this runs in `Drop`, outside any runtime).
fn delete_session(port: u16, session: &str) {
    let Ok(mut stream) =
        TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(1))
    else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    // Read the whole answer (chromedriver keeps the connection open after it): the session is
    // gone, and Chromium with it, once the answer is complete.
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
        if answer_complete(&answer) {
            break;
        }
    }
}

/// Whether `answer` holds an HTTP response's head and as much body as its `Content-Length`.
fn answer_complete(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    answer.len() >= end + 4 + length
}

/// Kills chromedriver's process group (chromedriver and the Chromium it started) and reaps it.
fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // The group id is chromedriver's pid (`process_group(0)`).
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn element_json(element: &Element) -> Value {
    serde_json::to_value(element).expect("an element reference")
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The source of `axe.min.js`, read once per test process.
fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let candidates = axe_candidates();
        for path in &candidates {
            if let Ok(source) = std::fs::read_to_string(path) {
                return source;
            }
        }
        let tried: Vec<String> = candidates
            .iter()
            .map(|p| format!("  {}", p.display()))
            .collect();
        panic!(
            "axe-core's axe.min.js not found; looked at:\n{}\n{RUN_THE_TESTS}, or set {AXE_ENV}",
            tried.join("\n")
        );
    })
}

/// Where `axe.min.js` may be, in order (see the module doc).
fn axe_candidates() -> Vec<PathBuf> {
    if let Some(path) = std::env::var_os(AXE_ENV) {
        return vec![PathBuf::from(path)];
    }
    crate::test_tool("node_modules/axe-core/axe.min.js")
}
