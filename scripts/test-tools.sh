#!/usr/bin/env bash
# Installs what the test suite runs besides the stack (called by scripts/test.sh; the production
# binary knows nothing of it):
#   - python3-aiosmtpd: the test SMTP server (ebok_testkit::smtp)
#   - chromium, chromium-driver, fonts-liberation: the portal's browser tests (ebok_testkit::browser)
#   - libxml2-utils: xmllint, which validates the invoices' FA(3) XML against the KSeF schema
#     (ebok-billing's ksef tests)
#   - poppler-utils: pdftotext, which reads the invoice PDFs back (ebok-billing's pdf tests)
#   - python3-feedparser, python3-icalendar: parsers from outside the project that read the
#     outage feeds back (ebok-outages' feed tests)
#   - axe-core, pinned, from the npm registry (it is no Debian package) into
#     <data folder>/test-tools/node_modules/axe-core/axe.min.js, where the browser tests find it
#   - schemathesis, pinned, from PyPI into a virtual environment, <data folder>/test-tools/venv,
#     where the API contract test finds it (python3-venv from Debian's packages when the python3
#     on the PATH cannot make one)
# Debian packages come through apt-get as root, or `sudo -n` when allowed. Logs: <data folder>/apt.log
# npm.log and pip.log.
#
#   scripts/test-tools.sh DATA_FOLDER
set -euo pipefail

# The accessibility rules a page is checked against. Pinned: a new release may add rules, and a
# page must not start failing because a download changed.
AXE_CORE_VERSION=4.14.1
# The API contract checks, pinned for the same reason.
SCHEMATHESIS_VERSION=4.32.5

data="${1:?usage: scripts/test-tools.sh DATA_FOLDER}"
mkdir -p "$data"
data="$(cd "$data" && pwd)"

missing=()
# Debian's python3 (the test SMTP server runs it), whatever python3 comes first on the PATH.
env -u PYTHONPATH -u PYTHONHOME PYTHONNOUSERSITE=1 /usr/bin/python3 -c 'import aiosmtpd' \
    >/dev/null 2>&1 || missing+=(python3-aiosmtpd)
# Parsers from outside the project that check the outage feeds (Atom and iCalendar).
for module in feedparser icalendar; do
    env -u PYTHONPATH -u PYTHONHOME PYTHONNOUSERSITE=1 /usr/bin/python3 -c "import $module" \
        >/dev/null 2>&1 || missing+=("python3-$module")
done
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -x /usr/bin/chromedriver ]] || missing+=(chromium-driver)
[[ -d /usr/share/fonts/truetype/liberation ]] || missing+=(fonts-liberation)
[[ -x /usr/bin/xmllint ]] || missing+=(libxml2-utils)
[[ -x /usr/bin/pdftotext ]] || missing+=(poppler-utils)
tools="$data/test-tools"
installed_axe() {
    [[ -f "$tools/node_modules/axe-core/axe.min.js" ]] &&
        grep -q "\"version\": \"$AXE_CORE_VERSION\"" "$tools/node_modules/axe-core/package.json"
}
if ! installed_axe && ! command -v npm >/dev/null; then
    missing+=(npm)
fi
installed_schemathesis() {
    [[ -x "$tools/venv/bin/schemathesis" ]] &&
        "$tools/venv/bin/schemathesis" --version 2>/dev/null | grep -q "version $SCHEMATHESIS_VERSION\$"
}
if ! installed_schemathesis && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi

if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        apt=(apt-get)
    elif sudo -n true 2>/dev/null; then
        apt=(sudo -n apt-get)
    else
        echo "test tools missing (${missing[*]}): install them, or run as root or with passwordless sudo" >&2
        exit 1
    fi
    echo "test tools: installing ${missing[*]} from Debian's packages (log: $data/apt.log)" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >>"$data/apt.log" 2>&1; then
        # The package lists may be stale: refresh them once.
        "${apt[@]}" update >>"$data/apt.log" 2>&1
        "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >>"$data/apt.log" 2>&1 || {
            tail -n 15 "$data/apt.log" >&2
            exit 1
        }
    fi
fi

if ! installed_axe; then
    echo "test tools: installing axe-core $AXE_CORE_VERSION from the npm registry (log: $data/npm.log)" >&2
    mkdir -p "$tools"
    cat >"$tools/package.json" <<JSON
{
  "name": "ebok-test-tools",
  "private": true,
  "description": "Tools of the eBOK test suite, installed by scripts/test-tools.sh",
  "dependencies": { "axe-core": "$AXE_CORE_VERSION" }
}
JSON
    (cd "$tools" && npm install --no-audit --no-fund --ignore-scripts --no-update-notifier \
        --save-exact >>"$data/npm.log" 2>&1) || {
        tail -n 15 "$data/npm.log" >&2
        exit 1
    }
    installed_axe || { echo "axe-core $AXE_CORE_VERSION not found after npm install" >&2; exit 1; }
fi

if ! installed_schemathesis; then
    echo "test tools: installing schemathesis $SCHEMATHESIS_VERSION from PyPI (log: $data/pip.log)" >&2
    mkdir -p "$tools"
    rm -rf "$tools/venv"
    { python3 -m venv "$tools/venv" &&
        "$tools/venv/bin/pip" install --disable-pip-version-check \
            "schemathesis==$SCHEMATHESIS_VERSION"; } >>"$data/pip.log" 2>&1 || {
        tail -n 15 "$data/pip.log" >&2
        exit 1
    }
    installed_schemathesis || { echo "schemathesis $SCHEMATHESIS_VERSION not found after pip install" >&2; exit 1; }
fi
