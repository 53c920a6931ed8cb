"""The dashboard's sign-in throttle on the real `remit control-plane` binary (issue 8).

Its own control plane: once 127.0.0.1 is throttled, no other test could sign in from it. The
throttle counts by the TCP peer's address, which only a live server has (the in-process tests
have none and share one count).
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import urllib.parse
import urllib.request

import pytest

from support.procs import ManagedProcess, free_port, wait_until
from support.remit import binary_or_fail

pytestmark = pytest.mark.remit


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sign-in-throttle")
    port = free_port()
    admin_key = "remit_" + secrets.token_urlsafe(32)
    process = ManagedProcess(
        "control-plane",
        [binary_or_fail(), "control-plane", "--listen", f"127.0.0.1:{port}", "--database",
         f"sqlite:{workdir}/remit.db", "--dashboard-sign-in-failures", "3"],
        workdir, env=dict(os.environ, REMIT_BOOTSTRAP_ADMIN_KEY=admin_key),
    ).start()

    def healthy():
        assert process.alive(), process.diagnostics()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return response.status == 200

    try:
        wait_until(healthy, timeout=30, what="the control plane's /healthz")
        yield port, admin_key
    finally:
        process.stop()


def sign_in(port: int, key: str) -> http.client.HTTPResponse:
    """GET the form for its double-submit token, then POST it with `key`, as a browser would."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/ui/sign-in")
    page = conn.getresponse()
    html = page.read().decode()
    cookie = page.getheader("set-cookie").split(";")[0]
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
    body = urllib.parse.urlencode({"csrf": token, "key": key})
    conn.request("POST", "/ui/sign-in", body=body, headers={
        "content-type": "application/x-www-form-urlencoded", "cookie": cookie,
        "origin": f"http://127.0.0.1:{port}"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_failures_over_the_limit_throttle_the_address_even_for_the_right_key(control_plane):
    # --dashboard-sign-in-failures 3 (default 10): the flag reaches the throttle.
    port, admin_key = control_plane
    assert sign_in(port, admin_key).status == 303  # a success clears nothing it needs to
    for attempt in range(3):
        response = sign_in(port, f"remit_guess_{attempt}")
        assert response.status == 401, attempt
    refused = sign_in(port, admin_key)
    assert refused.status == 429
    assert 1 <= int(refused.getheader("retry-after")) <= 300
    assert refused.getheader("content-security-policy"), "the 429 page carries the security headers"
    # The API is not the dashboard: the same key still works there.
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/agents",
                                     headers={"Authorization": f"Bearer {admin_key}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
