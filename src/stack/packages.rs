//! Finding the PostgreSQL and Mosquitto programs, and installing them from Debian's packages
//! when they are missing (as root directly, otherwise through `sudo -n` if it is allowed).
//! With `EBOK_STACK_TEST_TOOLS=true` (set by `scripts/test.sh`) the same goes for what the test
//! suite runs besides the stack: aiosmtpd for the test SMTP server (`ebok_testkit::smtp`), and
//! for the portal's browser tests (`ebok_testkit::browser`) Debian's Chromium and ChromeDriver
//! (with the fonts Debian recommends for it) plus axe-core. axe-core is no Debian package: it
//! comes from the npm registry (by `npm`; Debian's package when the machine has none) into the
//! data folder, pinned to [`AXE_CORE_VERSION`]:
//!
//! ```text
//! <data folder>/test-tools/package.json                       {"dependencies": {"axe-core": <pin>}}
//! <data folder>/test-tools/node_modules/axe-core/axe.min.js   what the tests inject
//! ```
//!
//! The tests find `axe.min.js` at that fixed place (`EBOK__STACK__DATA_DIR`, or the default data
//! folders, under the workspace) rather than through a variable `ebok stack run` would have to
//! export: the same path works from `scripts/test.sh`, from `ebok stack run -- cargo nextest run`
//! and from a plain `cargo nextest run` afterwards. It is downloaded again only when the pin
//! changes.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The oldest PostgreSQL major version the schema supports (declarative partitioning with the
/// features we use, trusted btree_gist).
pub const MIN_POSTGRES_MAJOR: u32 = 15;

/// Where the server programs of one PostgreSQL installation are.
#[derive(Debug, Clone)]
pub struct PostgresBin {
    pub major: u32,
    pub dir: PathBuf,
}

impl PostgresBin {
    pub fn program(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The newest Debian-layout PostgreSQL (`/usr/lib/postgresql/<major>/bin`) of a supported
/// version, or one whose `initdb` is on the PATH.
pub fn find_postgres() -> Option<PostgresBin> {
    let mut found: Vec<PostgresBin> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major: u32 = entry.file_name().to_str()?.parse().ok()?;
            let dir = entry.path().join("bin");
            (major >= MIN_POSTGRES_MAJOR && has_server(&dir)).then_some(PostgresBin { major, dir })
        })
        .collect();
    found.sort_by_key(|b| b.major);
    if let Some(best) = found.pop() {
        return Some(best);
    }
    let initdb = which("initdb")?;
    let dir = std::fs::canonicalize(&initdb).ok()?.parent()?.to_path_buf();
    let major = postgres_major(&dir)?;
    (major >= MIN_POSTGRES_MAJOR && has_server(&dir)).then_some(PostgresBin { major, dir })
}

fn has_server(dir: &Path) -> bool {
    ["initdb", "postgres", "pg_isready"]
        .iter()
        .all(|p| dir.join(p).is_file())
}

fn postgres_major(dir: &Path) -> Option<u32> {
    let out = Command::new(dir.join("postgres"))
        .arg("--version")
        .output()
        .ok()?;
    // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().nth(2)?;
    version.split('.').next()?.parse().ok()
}

pub fn find_mosquitto() -> Option<PathBuf> {
    let debian = Path::new("/usr/sbin/mosquitto");
    if debian.is_file() {
        return Some(debian.to_path_buf());
    }
    which("mosquitto")
}

/// Set to `true` by `scripts/test.sh`. Deliberately outside the `EBOK__` configuration namespace
/// (a `StackConfig` field would be a setting of the system; this only serves the test runner).
pub const TEST_TOOLS_ENV: &str = "EBOK_STACK_TEST_TOOLS";

/// Whether the caller asked for the test suite's tools ([`TEST_TOOLS_ENV`]).
pub fn test_tools_wanted() -> bool {
    std::env::var(TEST_TOOLS_ENV).is_ok_and(|v| matches!(v.trim(), "true" | "1" | "yes"))
}

/// Whether Debian's python3 can import aiosmtpd (package `python3-aiosmtpd`), which the test
/// SMTP server runs on.
pub fn has_aiosmtpd() -> bool {
    Command::new("/usr/bin/python3")
        .args(["-c", "import aiosmtpd"])
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .env("PYTHONNOUSERSITE", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Debian's Chromium (package `chromium`), the browser of the portal's browser tests.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's ChromeDriver (package `chromium-driver`), the WebDriver server that drives it.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub fn has_chromium() -> bool {
    Path::new(CHROMIUM).is_file()
}

pub fn has_chromedriver() -> bool {
    Path::new(CHROMEDRIVER).is_file()
}

/// Whether the fonts Debian recommends for Chromium (`fonts-liberation`) are installed: a
/// machine without any font renders the portal's text as nothing, which no test should see.
pub fn has_browser_fonts() -> bool {
    Path::new("/usr/share/fonts/truetype/liberation").is_dir()
}

/// The axe-core release the accessibility checks run. Pinned: a new release may add rules, and
/// a page must not start failing because a download changed. `ebok_testkit::browser` reads
/// whatever is installed, so this is the only place that names the version.
pub const AXE_CORE_VERSION: &str = "4.14.1";

/// The folder under the stack's data folder that holds the tests' npm packages.
pub fn test_tools_dir(data_root: &Path) -> PathBuf {
    data_root.join("test-tools")
}

/// Whether axe-core of the pinned version is installed in `tools` (see the module doc).
pub fn has_axe_core(tools: &Path) -> bool {
    let package = tools.join("node_modules/axe-core");
    let version = std::fs::read_to_string(package.join("package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|json| json["version"].as_str().map(str::to_owned));
    version.as_deref() == Some(AXE_CORE_VERSION) && package.join("axe.min.js").is_file()
}

/// Whether the npm client is on the PATH (Debian's `npm`, or the one that comes with Node.js).
pub fn has_npm() -> bool {
    which("npm").is_some()
}

/// Installs axe-core [`AXE_CORE_VERSION`] into `tools` from the npm registry with `npm install`
/// (no install scripts, no audit). `log` receives npm's output; on failure its tail is in the
/// error.
pub fn install_axe_core(tools: &Path, log: &Path) -> Result<()> {
    let npm = which("npm").context("npm is not installed (Debian's package `npm` provides it)")?;
    std::fs::create_dir_all(tools).with_context(|| format!("creating {}", tools.display()))?;
    let manifest = serde_json::json!({
        "name": "ebok-test-tools",
        "private": true,
        "description": "Tools of the eBOK test suite, installed by `ebok stack run` (src/stack/packages.rs)",
        "dependencies": { "axe-core": AXE_CORE_VERSION },
    });
    std::fs::write(
        tools.join("package.json"),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )
    .with_context(|| format!("writing {}", tools.join("package.json").display()))?;
    eprintln!(
        "ebok: installing axe-core {AXE_CORE_VERSION} from the npm registry into {} (log: {})",
        tools.display(),
        log.display()
    );
    let out = std::fs::File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let status = Command::new(npm)
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--no-update-notifier",
            "--save-exact",
        ])
        .current_dir(tools)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .status()
        .context("running npm install")?;
    if status.success() && has_axe_core(tools) {
        return Ok(());
    }
    bail!(
        "installing axe-core {AXE_CORE_VERSION} with npm failed; last lines of {}:\n{}",
        log.display(),
        super::process::tail(log, 15)
    )
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}

/// Installs the named Debian packages, refreshing the package lists once if the first attempt
/// fails. `log` receives apt's output; on failure its tail is in the error.
pub fn apt_install(packages: &[&str], log: &Path) -> Result<()> {
    let root = nix::unistd::geteuid().is_root();
    if !root && which("sudo").is_none() {
        bail!(
            "{} missing and this user cannot install packages; run `sudo apt-get install {}` \
             or point EBOK__DATABASE__URL / EBOK__MQTT__URL at existing services",
            packages.join(" and "),
            packages.join(" ")
        );
    }
    if which("apt-get").is_none() {
        bail!(
            "{} missing and apt-get is not available (not a Debian system?); install them \
             yourself or set EBOK__DATABASE__URL / EBOK__MQTT__URL",
            packages.join(" and ")
        );
    }
    eprintln!(
        "ebok: installing {} from Debian's packages (log: {})",
        packages.join(", "),
        log.display()
    );
    let apt = |args: &[&str]| -> Result<bool> {
        let mut command = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.args(["-n", "apt-get"]);
            c
        };
        let out = std::fs::File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let status = command
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .status()
            .context("running apt-get")?;
        Ok(status.success())
    };
    let mut install: Vec<&str> = vec!["install", "-y", "--no-install-recommends"];
    install.extend_from_slice(packages);
    if apt(&install)? {
        return Ok(());
    }
    if apt(&["update"])? && apt(&install)? {
        return Ok(());
    }
    bail!(
        "installing {} failed; last lines of {}:\n{}",
        packages.join(" "),
        log.display(),
        super::process::tail(log, 15)
    )
}
