"""The `/ui` dashboard in a real browser (SPEC section 10): Debian's headless Chromium, driven by
selenium through Debian's chromedriver, against the real `remit control-plane` binary on a
SQLite file. Every assertion is on the DOM the browser built (or on its cookie jar)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.support.ui import Select, WebDriverWait

from support.procs import ManagedProcess, free_port, wait_until
from support.remit import binary_or_fail

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@dataclass
class ControlPlane:
    url: str
    admin_key: str
    process: ManagedProcess

    def api(self, method: str, path: str, body=None, key: str | None = None):
        """(status, decoded JSON or None) of a /v1 call."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {key or self.admin_key}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read()
                return response.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as error:
            text = error.read()
            return error.code, (json.loads(text) if text else None)


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory):
    binary = binary_or_fail()
    workdir = Path(os.environ["E2E_KEEP_DIR"]) / "dashboard" if os.environ.get("E2E_KEEP_DIR") else \
        tmp_path_factory.mktemp("dashboard")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    admin_key = "remit_" + secrets.token_urlsafe(32)
    env = dict(os.environ, REMIT_BOOTSTRAP_ADMIN_KEY=admin_key)
    process = ManagedProcess(
        "control-plane",
        [binary, "control-plane", "--listen", f"127.0.0.1:{port}", "--database", f"sqlite:{workdir}/remit.db",
         "--secrets-key-file", f"{workdir}/secrets.key"],
        workdir, env=env,
    ).start()
    url = f"http://127.0.0.1:{port}"

    def healthy():
        assert process.alive(), process.diagnostics()
        with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
            return response.status == 200

    try:
        wait_until(healthy, timeout=30, what="the control plane's /healthz")
        yield ControlPlane(url, admin_key, process)
    finally:
        process.stop()


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def signed_in(control_plane, browser):
    """The browser on the dashboard, signed in with the admin key."""
    browser.get(control_plane.url + "/ui/agents")
    if browser.current_url.endswith("/ui/sign-in"):
        browser.find_element(By.ID, "key").send_keys(control_plane.admin_key)
        click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form[action='/ui/sign-in'] button[type=submit]"))
    assert browser.current_url == control_plane.url + "/ui/agents", browser.page_source[:2000]
    return browser


def _gone(element):
    """True once `element` no longer belongs to the current document. Chrome reports a node of a
    page that was navigated away from either as stale or as "does not belong to the document"
    (an unknown error), depending on timing; both mean the next page is there."""
    def check(_browser):
        try:
            element.is_enabled()
            return False
        except (StaleElementReferenceException, WebDriverException):
            return True
    return check


def click_and_wait(browser, element):
    """Clicks a submit button and waits for the next page (a click does not always wait for it)."""
    old_page = browser.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(browser, 15).until(_gone(old_page))


def submit(browser, form_selector: str = "main form.stacked"):
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, f"{form_selector} button[type=submit]"))


def fill(browser, field_id: str, value: str):
    element = browser.find_element(By.ID, field_id)
    element.clear()
    if value:
        element.send_keys(value)


def register_agent(browser, url: str, agent_id: str, namespace: str = "", service_account: str = ""):
    browser.get(url + "/ui/agents/new")
    fill(browser, "id", agent_id)
    fill(browser, "namespace", namespace)
    fill(browser, "serviceAccount", service_account)
    submit(browser)


def api_message(control_plane, body: dict, field: str) -> str:
    """The message the API gives for `body` on `field` (what the form must show)."""
    status, answer = control_plane.api("POST", "/v1/agents", body)
    assert status == 422, answer
    messages = [problem["message"] for problem in answer["errors"] if problem["field"] == field]
    assert messages, answer
    return messages[0]


# ------------------------------------------------------------------------------------------------


def test_sign_in_sets_a_strict_httponly_session_cookie(control_plane, browser):
    browser.delete_all_cookies()
    browser.get(control_plane.url + "/ui")
    assert browser.current_url == control_plane.url + "/ui/sign-in"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in"
    browser.find_element(By.ID, "key").send_keys(control_plane.admin_key)
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form[action='/ui/sign-in'] button[type=submit]"))
    assert browser.current_url == control_plane.url + "/ui/agents"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Agents"
    assert "default" in browser.find_element(By.CSS_SELECTOR, ".who").text
    cookie = browser.get_cookie("remit_session")
    assert cookie is not None
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/ui"
    assert cookie["secure"] is False  # plain http: the control plane has no TLS of its own


def test_a_wrong_key_is_refused_on_the_page(control_plane, browser):
    browser.delete_all_cookies()
    browser.get(control_plane.url + "/ui/sign-in")
    browser.find_element(By.ID, "key").send_keys("remit_not-a-key-of-this-control-plane-at-all-000")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form[action='/ui/sign-in'] button[type=submit]"))
    assert "not accepted" in browser.find_element(By.ID, "sign-in-error").text
    assert browser.get_cookie("remit_session") is None


def test_register_an_agent_with_a_mesh_identity_and_see_it_listed(control_plane, signed_in):
    register_agent(signed_in, control_plane.url, "e2e-checkout", "agents", "e2e-checkout")
    assert signed_in.current_url.startswith(control_plane.url + "/ui/agents/e2e-checkout")
    assert signed_in.find_element(By.CSS_SELECTOR, "p.notice").text == "Created."
    signed_in.get(control_plane.url + "/ui/agents")
    row = signed_in.find_element(By.CSS_SELECTOR, "tr[data-agent='e2e-checkout']")
    assert row.find_element(By.CSS_SELECTOR, "td.identity").text == "agents/e2e-checkout"
    status, agent = control_plane.api("GET", "/v1/agents/e2e-checkout")
    assert status == 200 and agent["meshIdentity"] == {"namespace": "agents", "serviceAccount": "e2e-checkout"}


def test_a_half_filled_binding_shows_the_apis_message_beside_the_field(control_plane, signed_in):
    register_agent(signed_in, control_plane.url, "e2e-half", "agents", "")
    expected = api_message(control_plane, {"id": "e2e-half", "meshIdentity": {"namespace": "agents"}},
                           "meshIdentity.serviceAccount")
    error = signed_in.find_element(By.ID, "serviceAccount-error")
    assert error.text == expected
    # It sits in the Mesh Identity section, next to its field, and the typed value is kept.
    fieldset = signed_in.find_element(By.ID, "mesh-identity")
    assert fieldset.find_element(By.CSS_SELECTOR, "legend").text == "Mesh Identity"
    assert fieldset.find_element(By.ID, "serviceAccount-error").is_displayed()
    assert signed_in.find_element(By.ID, "namespace").get_attribute("value") == "agents"
    assert signed_in.find_element(By.ID, "serviceAccount").get_attribute("aria-describedby") == "serviceAccount-error"
    assert control_plane.api("GET", "/v1/agents/e2e-half")[0] == 404


def test_an_invalid_namespace_shows_the_apis_message(control_plane, signed_in):
    register_agent(signed_in, control_plane.url, "e2e-bad-ns", "Bad_NS", "bot")
    expected = api_message(
        control_plane, {"id": "e2e-bad-ns", "meshIdentity": {"namespace": "Bad_NS", "serviceAccount": "bot"}},
        "meshIdentity.namespace")
    assert signed_in.find_element(By.ID, "namespace-error").text == expected
    assert signed_in.find_element(By.ID, "namespace").get_attribute("value") == "Bad_NS"


def test_an_identity_bound_to_another_agent_is_a_conflict_on_the_form(control_plane, signed_in):
    register_agent(signed_in, control_plane.url, "e2e-conflict-holder", "agents", "e2e-shared")
    register_agent(signed_in, control_plane.url, "e2e-conflict-thief", "agents", "e2e-shared")
    assert "already bound to agent e2e-conflict-holder" in signed_in.find_element(By.ID, "identity-error").text


def test_edit_an_agent(control_plane, signed_in):
    register_agent(signed_in, control_plane.url, "e2e-edit", "agents", "e2e-edit")
    signed_in.get(control_plane.url + "/ui/agents/e2e-edit")
    click_and_wait(signed_in, signed_in.find_element(By.LINK_TEXT, "Edit"))
    assert signed_in.find_element(By.ID, "namespace").get_attribute("value") == "agents"
    fill(signed_in, "description", "Edited in a browser")
    Select(signed_in.find_element(By.ID, "mode")).select_by_value("observe")
    fill(signed_in, "serviceAccount", "e2e-edit-2")
    submit(signed_in)
    assert signed_in.find_element(By.CSS_SELECTOR, "p.notice").text == "Saved."
    assert signed_in.find_element(By.ID, "agent-description").text == "Edited in a browser"
    assert signed_in.find_element(By.CSS_SELECTOR, "dd.identity").text == "agents/e2e-edit-2"
    status, agent = control_plane.api("GET", "/v1/agents/e2e-edit")
    assert agent["mode"] == "observe" and agent["meshIdentity"]["serviceAccount"] == "e2e-edit-2"


def test_an_agent_without_identity_is_not_mesh_bound(control_plane, signed_in):
    register_agent(signed_in, control_plane.url, "e2e-loose")
    signed_in.get(control_plane.url + "/ui/agents")
    row = signed_in.find_element(By.CSS_SELECTOR, "tr[data-agent='e2e-loose']")
    assert row.find_element(By.CSS_SELECTOR, "td.identity").text == "Not mesh-bound"


def test_a_mission_edit_error_is_shown_in_place(control_plane, signed_in):
    signed_in.get(control_plane.url + "/ui/missions/new")
    fill(signed_in, "document", "id: e2e-mission\ndescription: From the browser\nallow:\n  - to: tools/inventory\n")
    submit(signed_in)
    assert signed_in.current_url.startswith(control_plane.url + "/ui/missions/e2e-mission")
    assert "to: tools/inventory" in signed_in.find_element(By.ID, "document").get_attribute("value")

    bad = "description: From the browser\nallow:\n  - to: Not A Workload\n"
    fill(signed_in, "document", bad)
    submit(signed_in)
    errors = signed_in.find_element(By.ID, "form-errors")
    assert "allow[0].to" in errors.text
    # The textarea keeps what was typed, right below the errors; the stored mission is unchanged.
    assert signed_in.find_element(By.ID, "document").get_attribute("value") == bad
    assert signed_in.find_element(By.ID, "document").get_attribute("aria-describedby") == "form-errors"
    status, mission = control_plane.api("GET", "/v1/missions/e2e-mission")
    assert mission["allow"] == [{"to": "tools/inventory"}]


def test_a_decision_appears_and_the_filter_narrows_it(control_plane, signed_in):
    status, issued = control_plane.api("POST", "/v1/api-keys", {"role": "authorizer"})
    assert status == 201, issued
    suffix = secrets.token_hex(4)
    events = [
        {"decisionId": f"e2e-allow-{suffix}", "time": "2026-11-23T10:00:00.000Z", "surface": "mesh",
         "verdict": "allow", "reason": None, "mode": "enforce", "agent": "e2e-checkout",
         "sourcePrincipal": "spiffe://cluster.local/ns/agents/sa/e2e-checkout",
         "destination": "tools/inventory", "kind": "east_west", "method": "POST", "path": "/mcp",
         "tool": "get_stock", "policyVersion": "7", "findings": [], "latencyUs": 120},
        {"decisionId": f"e2e-deny-{suffix}", "time": "2026-11-23T10:00:01.000Z", "surface": "mesh",
         "verdict": "deny", "reason": "scope_tool_denied", "mode": "enforce", "agent": "e2e-rogue",
         "sourcePrincipal": "spiffe://cluster.local/ns/agents/sa/e2e-rogue",
         "destination": "tools/payments", "kind": "east_west", "method": "POST", "path": "/mcp",
         "tool": "charge", "policyVersion": "7", "findings": [], "latencyUs": 95},
    ]
    status, answer = control_plane.api(
        "POST", "/v1/audit/events", {"authorizer": "e2e-authz-1", "events": events}, key=issued["key"])
    assert status == 202, answer

    signed_in.get(control_plane.url + "/ui/decisions")
    assert signed_in.find_elements(By.CSS_SELECTOR, f"tr[data-decision='e2e-allow-{suffix}']")
    assert signed_in.find_elements(By.CSS_SELECTOR, f"tr[data-decision='e2e-deny-{suffix}']")

    fill(signed_in, "agent", "e2e-rogue")
    Select(signed_in.find_element(By.ID, "verdict")).select_by_value("deny")
    fill(signed_in, "reason", "scope_tool_denied")
    click_and_wait(signed_in, signed_in.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]"))
    assert "agent=e2e-rogue" in signed_in.current_url
    rows = signed_in.find_elements(By.CSS_SELECTOR, "#decisions tbody tr")
    assert [row.get_attribute("data-decision") for row in rows] == [f"e2e-deny-{suffix}"]
    assert "scope_tool_denied" in rows[0].text
    assert signed_in.find_element(By.ID, "agent").get_attribute("value") == "e2e-rogue"

    Select(signed_in.find_element(By.ID, "verdict")).select_by_value("allow")
    click_and_wait(signed_in, signed_in.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]"))
    assert signed_in.find_elements(By.CSS_SELECTOR, "#decisions tbody tr") == []
    assert signed_in.find_element(By.ID, "no-decisions").text == "No decisions match."


def test_a_form_posted_without_its_csrf_token_is_refused(control_plane, signed_in):
    signed_in.get(control_plane.url + "/ui/agents/new")
    fill(signed_in, "id", "e2e-csrf")
    # Take the token out of the real form, as a forged form would lack it, then submit it.
    signed_in.execute_script(
        "document.querySelector('main form.stacked input[name=csrf]').remove()")
    submit(signed_in)
    assert signed_in.find_element(By.TAG_NAME, "h1").text == "Forbidden"
    assert signed_in.find_element(By.ID, "error-code").text == "csrf_refused"
    assert control_plane.api("GET", "/v1/agents/e2e-csrf")[0] == 404


def test_sign_out_ends_the_session(control_plane, signed_in):
    click_and_wait(signed_in, signed_in.find_element(By.CSS_SELECTOR, "form.sign-out button[type=submit]"))
    assert signed_in.current_url == control_plane.url + "/ui/sign-in"
    assert signed_in.get_cookie("remit_session") is None
    signed_in.get(control_plane.url + "/ui/agents")
    assert signed_in.current_url == control_plane.url + "/ui/sign-in"


def test_a_decision_made_by_a_real_authorizer_appears_in_decisions(control_plane, signed_in, tmp_path):
    """The whole path: the example policy applied with `remit policy apply`, a `remit serve
    --control-plane` following it, a real gRPC Check (`remit check --authorizer`), the audit
    shipper's batch, and the row in the browser. (Runs last: it replaces the tenant's policy.)"""
    import subprocess

    from support.remit import repo_root

    binary = str(binary_or_fail())
    examples = repo_root() / "examples"
    env = dict(os.environ, REMIT_API_KEY=control_plane.admin_key)
    applied = subprocess.run(
        [binary, "policy", "apply", str(examples / "policy.yaml"), "--control-plane", control_plane.url],
        env=env, capture_output=True, text=True, timeout=30)
    assert applied.returncode == 0, applied.stderr
    status, issued = control_plane.api("POST", "/v1/api-keys", {"role": "authorizer"})
    assert status == 201, issued
    key_file = tmp_path / "authorizer-key"
    key_file.write_text(issued["key"])
    grpc_port, admin_port = free_port(), free_port()
    authorizer = ManagedProcess(
        "authorizer",
        [binary, "serve", "--control-plane", control_plane.url, "--api-key-file", str(key_file),
         "--state-dir", str(tmp_path / "state"), "--instance-id", "e2e-dashboard-authz",
         "--listen", f"127.0.0.1:{grpc_port}", "--admin-listen", f"127.0.0.1:{admin_port}"],
        tmp_path).start()
    try:
        def ready():
            assert authorizer.alive(), authorizer.diagnostics()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/readyz", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_until(ready, timeout=30, what="the authorizer's /readyz")
        checked = subprocess.run(
            [binary, "check", "--authorizer", f"127.0.0.1:{grpc_port}",
             "--request", str(examples / "requests" / "tools-call-denied.json")],
            capture_output=True, text=True, timeout=30)
        assert checked.returncode == 3, checked.stdout + checked.stderr
        decision = json.loads(checked.stdout)
        assert decision["reason"] == "scope_tool_denied"
        decision_id = decision["decision_id"]

        def shown():
            signed_in.get(control_plane.url + "/ui/decisions?agent=checkout-bot")
            rows = signed_in.find_elements(By.CSS_SELECTOR, f"tr[data-decision='{decision_id}']")
            return rows[0] if rows else None

        row = wait_until(shown, timeout=15, interval=0.5, what="the decision's row in Decisions")
        assert "scope_tool_denied" in row.text and "checkout-bot" in row.text
        assert "e2e-dashboard-authz" in row.text
    finally:
        authorizer.stop()


def test_a_chain_shows_its_tree_of_agents(control_plane, signed_in):
    for caller, callee in [("e2e-planner", "e2e-researcher"), ("e2e-researcher", "e2e-browser"),
                           ("e2e-planner", "e2e-writer")]:
        hop = {"chainId": "e2e-txn", "caller": caller, "callee": callee, "maxDepth": 4, "ttlSeconds": 600}
        status, answer = control_plane.api("POST", "/v1/delegations/hops", hop)
        assert status == 200 and answer["outcome"] == "recorded", answer
    click_and_wait(signed_in, signed_in.find_element(By.LINK_TEXT, "Chains"))
    click_and_wait(signed_in, signed_in.find_element(By.CSS_SELECTOR, "tr[data-chain='e2e-txn'] a"))
    assert signed_in.find_element(By.TAG_NAME, "h1").text == "Chain e2e-txn"
    root = signed_in.find_element(By.CSS_SELECTOR, "#chain-tree > li")
    assert root.get_attribute("data-member") == "e2e-planner" and root.get_attribute("data-depth") == "0"
    children = root.find_elements(By.CSS_SELECTOR, ":scope > ul > li")
    assert [c.get_attribute("data-member") for c in children] == ["e2e-researcher", "e2e-writer"]
    grandchild = children[0].find_element(By.CSS_SELECTOR, ":scope > ul > li")
    assert grandchild.get_attribute("data-member") == "e2e-browser"
    assert "depth 2" in grandchild.text


def test_a_secret_is_set_and_deleted_but_never_shown(control_plane, signed_in):
    value = "sk_e2e_" + secrets.token_hex(8)
    click_and_wait(signed_in, signed_in.find_element(By.LINK_TEXT, "Secrets"))
    fill(signed_in, "name", "e2e-api-key")
    fill(signed_in, "value", value)
    submit(signed_in)
    assert signed_in.find_element(By.CSS_SELECTOR, "p.notice").text == "Saved."
    assert signed_in.find_elements(By.CSS_SELECTOR, "tr[data-secret='e2e-api-key']")
    assert value not in signed_in.page_source
    assert signed_in.find_element(By.ID, "value").get_attribute("value") == ""
    click_and_wait(signed_in, signed_in.find_element(By.CSS_SELECTOR, "tr[data-secret='e2e-api-key'] button"))
    assert signed_in.find_element(By.CSS_SELECTOR, "p.notice").text == "Deleted."
    assert not signed_in.find_elements(By.CSS_SELECTOR, "tr[data-secret='e2e-api-key']")
