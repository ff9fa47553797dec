"""The board in a real browser: Debian's Chromium, headless (new mode),
driven by Selenium, doing mutual TLS itself with the organisation's
certificate from an NSS database, chosen by the AutoSelectCertificateForUrls
policy. Checks what a crisis worker does, that a provider's publication
appears without a reload, the CSRF, XSS and framing defences, and axe-core's
accessibility rules; screenshots at 360 and 1280 px go to target/board/."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    load_pem_private_key,
    pkcs12,
)
from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException,
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from spil import Hub
from spil.v1 import capacity_pb2, common_pb2, consultations_pb2

from conftest import REPOSITORY, RunningHub

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
POLICIES = Path("/etc/chromium/policies/managed")
SCREENSHOTS = REPOSITORY / "target" / "board"
AXE = REPOSITORY / "target" / "tools" / "node_modules" / "axe-core" / "axe.min.js"
P12_PASSWORD = "spil-board-test"


@pytest.fixture(scope="module", autouse=True)
def browser_installed() -> None:
    missing = [
        name
        for name, present in (
            ("chromium", CHROMIUM.exists()),
            ("chromium-driver", CHROMEDRIVER.exists()),
            ("libnss3-tools", shutil.which("pk12util") is not None),
            ("axe-core (npm, in target/tools)", AXE.exists()),
        )
        if not present
    ]
    if missing:
        pytest.fail(f"the board's browser tests need {', '.join(missing)}; .ci/run installs them")


def run(*command: str | Path) -> None:
    subprocess.run([str(c) for c in command], check=True, capture_output=True)


@pytest.fixture(scope="module")
def board(hub: RunningHub) -> Iterator[str]:
    """The board's address, with Chromium told to answer its certificate
    request with the one certificate in the profile's NSS database."""
    POLICIES.mkdir(parents=True, exist_ok=True)
    policy = POLICIES / "spil-board-test.json"
    pattern = json.dumps({"pattern": f"https://localhost:{hub.fhir_port}", "filter": {}})
    policy.write_text(json.dumps({"AutoSelectCertificateForUrls": [pattern]}))
    yield f"https://localhost:{hub.fhir_port}"
    policy.unlink()


@contextmanager
def browser(hub: RunningHub, organisation: str, home: Path, width: int = 1280) -> Iterator[WebDriver]:
    """Chromium holding `organisation`'s certificate, and no other."""
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    run("certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password")
    ca, cert, key = hub.credentials(organisation)
    certificates = x509.load_pem_x509_certificates(cert.read_bytes())
    bundle = pkcs12.serialize_key_and_certificates(
        organisation.encode(),
        load_pem_private_key(key.read_bytes(), None),
        certificates[0],
        certificates[1:] or None,
        BestAvailableEncryption(P12_PASSWORD.encode()),
    )
    p12 = home / f"{organisation}.p12"
    p12.write_bytes(bundle)
    run("pk12util", "-i", p12, "-d", f"sql:{nssdb}", "-W", P12_PASSWORD)
    run("certutil", "-A", "-d", f"sql:{nssdb}", "-n", "spil-server-ca", "-t", "C,,", "-i", ca)

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={home / 'profile'}",
        f"--window-size={width},900",
    ):
        options.add_argument(argument)
    service = Service(str(CHROMEDRIVER), env={**os.environ, "HOME": str(home)})
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def location(location_id: str, name: str) -> capacity_pb2.UpsertLocationRequest:
    return capacity_pb2.UpsertLocationRequest(
        location=capacity_pb2.Location(id=location_id, name=name, municipality_code="GM0392")
    )


def publish(provider: Hub, location_id: str, total: int, free: int) -> str:
    """Publishes a crisis bed at the location; returns the offering's id."""
    update = capacity_pb2.OfferingUpdate(
        key=capacity_pb2.OfferingKey(
            location_id=location_id,
            place_type=common_pb2.PLACE_TYPE_CRISIS_BED,
            care_profiles=[common_pb2.CARE_PROFILE_YOUTH_AND_PARENTING],
            age_band=common_pb2.AgeBand(min_age=12, max_age=17),
            gender_policy=common_pb2.GENDER_POLICY_ANY,
            security_level=common_pb2.SECURITY_LEVEL_OPEN,
        ),
        intake=common_pb2.INTAKE_AROUND_THE_CLOCK,
        total_places=total,
        free_places=free,
    )
    answer = provider.call(
        provider.capacity.PublishCapacity,
        capacity_pb2.PublishCapacityRequest(request_id=str(uuid.uuid4()), updates=[update]),
    )
    return answer.offerings[0].id


SEARCH = "/board/zoeken?leeftijd=15&gemeente=GM0392&soort=CrisisBed"


def result(driver: WebDriver, offering: str):
    return driver.find_element(By.CSS_SELECTOR, f'li[data-offering="{offering}"]')


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], object], seconds: float = 10):
    # A live refresh replaces the results under the test's feet.
    ignored = (StaleElementReferenceException, NoSuchElementException)
    return WebDriverWait(driver, seconds, poll_frequency=0.1, ignored_exceptions=ignored).until(
        condition
    )


def screenshot(driver: WebDriver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (360, 1280):
        driver.set_window_size(width, 900)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, max(900, height))
        driver.save_screenshot(str(SCREENSHOTS / f"{name}-{width}.png"))
        # Usable at 360 px: nothing wider than the window.
        scroll_width = driver.execute_script("return document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{name} is {scroll_width} px wide at {width} px"
    driver.set_window_size(1280, 900)


def serious_violations(driver: WebDriver) -> list[str]:
    """axe-core's serious and critical findings on the current page. The
    CSP forbids adding a script tag, so the source is evaluated directly."""
    driver.execute_script(AXE.read_text())
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then(r => done(r.violations.map(v => [v.id, v.impact, v.nodes.length])));"
    )
    return [f"{rule} ({impact}, {nodes} nodes)" for rule, impact, nodes in found if impact in ("serious", "critical")]


def test_a_crisis_worker_finds_a_bed_sees_it_change_live_holds_it_and_confirms(
    hub: RunningHub, board: str, as_org, tmp_path: Path
) -> None:
    kenter = as_org("kenter")
    kenter.call(kenter.capacity.UpsertLocation, location("board-haarlem", "Kenter bordtest Haarlem"))
    offering = publish(kenter, "board-haarlem", 4, 2)

    with browser(hub, "crisisdienst-zkh", tmp_path / "crisis") as driver:
        driver.get(board + SEARCH)
        assert "Crisisdienst Jeugd Zuid-Kennemerland" in driver.find_element(By.CLASS_NAME, "who").text
        # Whom to call before driving: the demo's Haarlem crisis desk.
        phones = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, 'a[href^="tel:"]')]
        assert "tel:0885551000" in phones, phones
        assert result(driver, offering).find_element(By.CLASS_NAME, "free").text == "2"
        screenshot(driver, "zoeken")
        assert serious_violations(driver) == []

        # The provider publishes from elsewhere; the page changes without a reload.
        driver.execute_script("window.notReloaded = true")
        publish(kenter, "board-haarlem", 4, 3)
        wait_for(driver, lambda d: result(d, offering).find_element(By.CLASS_NAME, "free").text == "3")
        assert driver.execute_script("return window.notReloaded") is True

        result(driver, offering).find_element(By.TAG_NAME, "button").click()
        wait_for(driver, lambda d: d.current_url.endswith("/board/holds"))
        countdown = driver.find_element(By.CLASS_NAME, "countdown")
        first = countdown.text
        assert first.startswith("nog 29:") or first.startswith("nog 30:"), first
        wait_for(driver, lambda d: d.find_element(By.CLASS_NAME, "countdown").text != first, 3)
        screenshot(driver, "holds")
        assert serious_violations(driver) == []

        crisis = as_org("crisisdienst-zkh")
        held = [
            h
            for h in crisis.call(crisis.capacity.ListHolds, capacity_pb2.ListHoldsRequest()).holds
            if h.offering_id == offering and h.state == capacity_pb2.HOLD_STATE_ACTIVE
        ]
        assert len(held) == 1 and held[0].child_municipality_code == "GM0392"

        driver.find_element(By.XPATH, f'//li[@data-hold="{held[0].id}"]//button[@type="submit"]').click()
        wait_for(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, f'li[data-hold="{held[0].id}"]'))
        states = {
            h.id: h.state
            for h in crisis.call(crisis.capacity.ListHolds, capacity_pb2.ListHoldsRequest()).holds
        }
        assert states[held[0].id] == capacity_pb2.HOLD_STATE_CONFIRMED


def test_a_provider_confirms_its_numbers_with_one_tap_and_the_crisis_worker_sees_it_fresh(
    hub: RunningHub, board: str, tmp_path: Path
) -> None:
    """The demo's IJmond crisis bed was last confirmed 20 hours ago: stale."""
    with (
        browser(hub, "consortium-ijmond", tmp_path / "provider") as provider,
        browser(hub, "crisisdienst-zkh", tmp_path / "crisis") as crisis,
    ):
        provider.get(board + "/board/aanbod")
        assert provider.find_elements(By.CSS_SELECTOR, "[data-soon]"), "the stale banner"
        stale = provider.find_element(By.CSS_SELECTOR, "li.offering.stale")
        offering = stale.get_attribute("data-offering")
        screenshot(provider, "aanbod")
        assert serious_violations(provider) == []

        crisis.get(board + SEARCH)
        assert "stale" in result(crisis, offering).get_attribute("class")
        assert not result(crisis, offering).find_elements(By.TAG_NAME, "button"), "no hold on stale"
        crisis.execute_script("window.notReloaded = true")

        unchanged = stale.find_element(By.XPATH, './/input[@value="ongewijzigd"]/..//button')
        unchanged.click()
        wait_for(
            provider,
            lambda d: "stale" not in d.find_element(
                By.CSS_SELECTOR, f'li[data-offering="{offering}"]'
            ).get_attribute("class"),
        )
        wait_for(crisis, lambda d: "stale" not in result(d, offering).get_attribute("class"))
        assert result(crisis, offering).find_element(By.CLASS_NAME, "free").text.isdigit()
        assert crisis.execute_script("return window.notReloaded") is True


def test_after_its_connection_drops_the_board_catches_up_with_what_it_missed(
    hub: RunningHub, board: str, as_org, tmp_path: Path
) -> None:
    """The board's hub stops for over 10 s while the provider publishes twice
    through another replica on the same database; when it is back, the page
    catches up by itself, from the last revision it saw."""
    kenter = as_org("kenter")
    kenter.call(kenter.capacity.UpsertLocation, location("board-offline", "Kenter offline-test"))
    offering = publish(kenter, "board-offline", 6, 1)
    with browser(hub, "crisisdienst-zkh", tmp_path / "offline") as driver:
        driver.get(board + SEARCH)
        assert result(driver, offering).find_element(By.CLASS_NAME, "free").text == "1"
        driver.execute_script("window.notReloaded = true")
        hub.stop()
        wait_for(driver, lambda d: "lost" in d.find_element(By.ID, "live").get_attribute("class"))
        started = time.monotonic()
        other = RunningHub(hub.directory)
        other.start()
        try:
            with other.connect("kenter") as provider:
                publish(provider, "board-offline", 6, 4)
                publish(provider, "board-offline", 6, 5)
        finally:
            other.stop()
        time.sleep(max(0.0, 10 - (time.monotonic() - started)))
        assert result(driver, offering).find_element(By.CLASS_NAME, "free").text == "1"
        hub.start()
        # Nothing is published after this: the page must catch up by itself.
        wait_for(driver, lambda d: result(d, offering).find_element(By.CLASS_NAME, "free").text == "5", 30)
        assert driver.execute_script("return window.notReloaded") is True


def give_name(driver: WebDriver, name: str) -> None:
    """The board asks who acts once per browser session, then goes back."""
    wait_for(driver, lambda d: "/board/naam" in d.current_url)
    driver.find_element(By.ID, "naam").send_keys(name)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(driver, lambda d: "/board/naam" not in d.current_url)


def field_error(driver: WebDriver, field: str) -> str:
    """The refusal shown on a field, found the way a screen reader finds it."""
    element = driver.find_element(By.ID, field)
    assert element.get_attribute("aria-invalid") == "true", field
    described = element.get_attribute("aria-describedby").split()
    return driver.find_element(By.ID, next(d for d in described if d.endswith("-fout"))).text


def test_a_ret_coordinator_accepts_and_advises_what_a_crisis_worker_filed_on_the_board(
    hub: RunningHub, board: str, as_org, tmp_path: Path
) -> None:
    """The crisis worker files through the board under a name with
    diacritics; the RET's inbox shows it without a reload; the coordinator
    accepts, is refused a BSN in a message on the field with the text kept,
    and advises. A real client reads the same history back."""
    case = f"BORD-{uuid.uuid4().hex[:8]}"
    question = "Derde crisisopname in twee maanden; welke behandelrichting past?"
    with (
        browser(hub, "ret-zkh-ijmond", tmp_path / "ret") as ret,
        browser(hub, "crisisdienst-zkh", tmp_path / "crisis") as crisis,
    ):
        ret.get(board + "/board/consultaties")
        give_name(ret, "Jaël Brouwer-Öztürk")
        assert ret.current_url.endswith("/board/consultaties")
        ret.execute_script("window.notReloaded = true")

        crisis.get(board + "/board/consultaties/nieuw")
        give_name(crisis, "Zoë Çelik")
        assert crisis.current_url.endswith("/board/consultaties/nieuw")
        Select(crisis.find_element(By.ID, "addressee_id")).select_by_value("ret-zkh-ijmond")
        Select(crisis.find_element(By.ID, "urgency")).select_by_value("Crisis")
        Select(crisis.find_element(By.ID, "question_type")).select_by_value("Advice")
        crisis.find_element(By.ID, "case_reference").send_keys(case)
        crisis.find_element(By.ID, "age_years").send_keys("15")
        crisis.find_element(By.ID, "municipality_code").send_keys("GM0392")
        for domain in ("MentalHealth", "Trauma"):
            crisis.find_element(By.CSS_SELECTOR, f'input[name="problem_domains"][value="{domain}"]').click()
        crisis.find_element(By.ID, "question").send_keys(question)
        # Filed without the family's consent: refused on that field, nothing typed lost.
        crisis.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]").click()
        wait_for(crisis, lambda d: d.find_elements(By.ID, "consent_recorded-fout"))
        assert "toestemming" in field_error(crisis, "consent_recorded")
        assert crisis.find_element(By.ID, "question").get_attribute("value") == question
        assert crisis.find_element(By.ID, "case_reference").get_attribute("value") == case
        screenshot(crisis, "consultatie-nieuw")
        assert serious_violations(crisis) == []
        crisis.find_element(By.ID, "consent_recorded").click()
        crisis.find_element(By.CSS_SELECTOR, "form.stack button[type=submit]").click()
        wait_for(crisis, lambda d: d.find_elements(By.CSS_SELECTOR, "dl.facts[data-consultation]"))
        consultation = crisis.find_element(By.CSS_SELECTOR, "dl.facts").get_attribute("data-consultation")

        # The RET's open inbox shows it without a reload.
        wait_for(ret, lambda d: d.find_elements(By.CSS_SELECTOR, f'li[data-consultation="{consultation}"]'))
        assert ret.execute_script("return window.notReloaded") is True
        screenshot(ret, "consultaties")
        assert serious_violations(ret) == []
        ret.find_element(By.CSS_SELECTOR, f'li[data-consultation="{consultation}"] a').click()
        wait_for(ret, lambda d: d.find_elements(By.CSS_SELECTOR, 'button[value="Accept"]'))
        assert question in ret.find_element(By.CLASS_NAME, "text").text
        ret.find_element(By.CSS_SELECTOR, 'button[value="Accept"]').click()
        wait_for(ret, lambda d: d.find_element(By.CSS_SELECTOR, "dd.state").text.startswith("Geaccepteerd"))

        message = "Bekend bij ons onder BSN 111222333, zie eerder dossier."
        ret.find_element(By.ID, "text").send_keys(message)
        ret.find_element(By.CSS_SELECTOR, "#bericht button[type=submit]").click()
        wait_for(ret, lambda d: d.find_elements(By.ID, "text-fout"))
        assert "BSN" in field_error(ret, "text")
        assert ret.find_element(By.ID, "text").get_attribute("value") == message
        screenshot(ret, "consultatie")
        assert serious_violations(ret) == []
        box = ret.find_element(By.ID, "text")
        box.clear()
        box.send_keys("Bekend bij ons, zie eerder dossier.")
        ret.find_element(By.CSS_SELECTOR, "#bericht button[type=submit]").click()
        wait_for(ret, lambda d: "zie eerder dossier" in d.find_element(By.CLASS_NAME, "thread").text)

        ret.find_element(By.CSS_SELECTOR, 'button[value="StartWork"]').click()
        wait_for(ret, lambda d: d.find_elements(By.CSS_SELECTOR, 'button[value="GiveAdvice"]'))
        advice = "Traumabehandeling in een klinische setting; K-EET kan meedenken."
        ret.find_element(By.ID, "note").send_keys(advice)
        ret.find_element(By.CSS_SELECTOR, 'button[value="GiveAdvice"]').click()
        wait_for(ret, lambda d: d.find_element(By.CSS_SELECTOR, "dd.state").text.startswith("Advies gegeven"))
        assert advice in ret.find_element(By.CLASS_NAME, "history").text

    reader = as_org("crisisdienst-zkh", person="Zoë Çelik")
    detail = reader.call(
        reader.consultations.GetConsultation,
        consultations_pb2.GetConsultationRequest(consultation_id=consultation),
    )
    assert detail.consultation.state == consultations_pb2.CONSULTATION_STATE_ADVICE_GIVEN
    assert detail.consultation.content.case_reference == case
    assert {change.person for change in detail.history} == {"Zoë Çelik", "Jaël Brouwer-Öztürk"}
    assert advice in [change.note for change in detail.history]


def test_a_crisis_worker_asks_a_provider_on_the_board_and_sees_its_answer_live(
    hub: RunningHub, board: str, as_org, tmp_path: Path
) -> None:
    """The crisis worker sends a placement request for a held place; the
    provider's open page shows it without a reload; a refusal for "another
    reason" without its note is refused on that field, the typed referral
    kept; the provider takes the child, and the worker's open page shows it."""
    kenter = as_org("kenter")
    kenter.call(kenter.capacity.UpsertLocation, location("board-request", "Kenter aanvraagtest"))
    offering = publish(kenter, "board-request", 3, 2)
    hold = as_org("crisisdienst-zkh").hold_place(offering, "GM0392")
    case = f"AANVR-{uuid.uuid4().hex[:8]}"
    with (
        browser(hub, "kenter", tmp_path / "provider") as provider,
        browser(hub, "crisisdienst-zkh", tmp_path / "crisis") as crisis,
    ):
        provider.get(board + "/board/plaatsingen")
        give_name(provider, "Nachtcoördinator Aïcha")
        provider.execute_script("window.notReloaded = true")

        crisis.get(board + "/board/holds")
        crisis.find_element(By.CSS_SELECTOR, f'a[href="/board/plaatsingen/nieuw?hold={hold.id}"]').click()
        give_name(crisis, "Zoë Çelik")
        checkbox = crisis.find_element(By.CSS_SELECTOR, f'input[name="hold_ids"][value="{hold.id}"]')
        assert checkbox.is_selected(), "the hold chosen on the holds page"
        Select(crisis.find_element(By.ID, "urgency")).select_by_value("Crisis")
        crisis.find_element(By.ID, "case_reference").send_keys(case)
        crisis.find_element(By.ID, "age_years").send_keys("15")
        crisis.find_element(By.CSS_SELECTOR, 'input[name="care_profiles"][value="YouthAndParenting"]').click()
        crisis.find_element(By.ID, "note").send_keys("Vannacht uit huis; geen medicatie.")
        crisis.find_element(By.ID, "consent_recorded").click()
        screenshot(crisis, "plaatsing-nieuw")
        assert serious_violations(crisis) == []
        crisis.find_element(By.CSS_SELECTOR, "form.stack > button[type=submit]").click()
        wait_for(crisis, lambda d: d.current_url.endswith("/board/plaatsingen"))
        crisis.execute_script("window.notReloaded = true")

        # The provider's open page shows the request without a reload.
        wait_for(provider, lambda d: case in d.find_element(By.ID, "placements").text)
        assert provider.execute_script("return window.notReloaded") is True
        assert "Vannacht uit huis; geen medicatie." in provider.find_element(By.ID, "placements").text
        part = provider.find_element(By.CSS_SELECTOR, "li[data-provider-request]").get_attribute("data-provider-request")
        Select(provider.find_element(By.ID, f"reden-{part}")).select_by_value("Other")
        provider.find_element(By.ID, f"verwijzing-{part}").send_keys("ander-aanbod-1")
        provider.find_element(By.CSS_SELECTOR, f'li[data-provider-request="{part}"] button[value="refuse"]').click()
        wait_for(provider, lambda d: d.find_elements(By.ID, f"toelichting-{part}-fout"))
        assert field_error(provider, f"toelichting-{part}") == "Vul dit in."
        assert provider.find_element(By.ID, f"verwijzing-{part}").get_attribute("value") == "ander-aanbod-1"
        screenshot(provider, "plaatsingen")
        assert serious_violations(provider) == []
        provider.find_element(By.CSS_SELECTOR, f'li[data-provider-request="{part}"] button[value="accept"]').click()
        wait_for(provider, lambda d: "Opgenomen" in d.find_element(By.CSS_SELECTOR, f'li[data-provider-request="{part}"]').text)

        # The worker's open page shows the answer without a reload.
        wait_for(crisis, lambda d: "Opgenomen" in d.find_element(By.ID, "placements").text)
        assert crisis.execute_script("return window.notReloaded") is True
    states = {
        h.id: h.state
        for h in as_org("crisisdienst-zkh").call(
            as_org("crisisdienst-zkh").capacity.ListHolds, capacity_pb2.ListHoldsRequest()
        ).holds
    }
    assert states[hold.id] == capacity_pb2.HOLD_STATE_CONFIRMED, "the hold became the placement"


def test_a_region_is_told_it_may_not_search(hub: RunningHub, board: str, tmp_path: Path) -> None:
    with browser(hub, "regio-zuid-kennemerland", tmp_path / "region") as driver:
        driver.get(board + SEARCH)
        assert "mag geen plekken zoeken" in driver.find_element(By.CLASS_NAME, "error").text


def test_a_revoked_certificate_gets_no_page_at_all(hub: RunningHub, board: str, tmp_path: Path) -> None:
    """The board's TLS refuses the revoked certificate (the hub reloads its
    CRL file by itself), so the browser gets no page, not even an error page
    of the board's."""
    pki = hub.directory / "pki"
    crl_file = pki / "client-ca.crl.pem"
    original = crl_file.read_bytes()
    with browser(hub, "crisisdienst-haaglanden", tmp_path / "before") as driver:
        driver.get(board + SEARCH)
        assert "Crisisdienst Jeugd Haaglanden" in driver.find_element(By.CLASS_NAME, "who").text

    ca = x509.load_pem_x509_certificate((pki / "client-ca.pem").read_bytes())
    ca_key = load_pem_private_key((pki / "client-ca-key.pem").read_bytes(), None)
    _, cert, _ = hub.credentials("crisisdienst-haaglanden")
    serial = x509.load_pem_x509_certificates(cert.read_bytes())[0].serial_number
    now = datetime.now(timezone.utc)
    revoked = (
        x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(now - timedelta(minutes=1))
        .next_update(now + timedelta(days=1))
        .add_revoked_certificate(revoked)
        .add_extension(x509.CRLNumber(int(time.time())), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    staged = crl_file.with_suffix(".new")
    staged.write_bytes(crl.public_bytes(Encoding.PEM))
    staged.replace(crl_file)
    try:
        # The hub checks its files every 10 s.
        time.sleep(12)
        with browser(hub, "crisisdienst-haaglanden", tmp_path / "after") as driver:
            try:
                driver.get(board + SEARCH)
            except Exception:
                pass  # a failed navigation is what is expected
            assert "Spil-bord" not in driver.page_source
            assert not driver.find_elements(By.CLASS_NAME, "who")
    finally:
        staged.write_bytes(original)
        staged.replace(crl_file)
        time.sleep(12)


def test_a_location_named_as_script_renders_as_text(
    hub: RunningHub, board: str, as_org, tmp_path: Path
) -> None:
    kenter = as_org("kenter")
    name = "<script>alert(1)</script>"
    kenter.call(kenter.capacity.UpsertLocation, location("board-xss", name))
    offering = publish(kenter, "board-xss", 2, 1)
    with browser(hub, "crisisdienst-zkh", tmp_path / "xss") as driver:
        driver.get(board + SEARCH)
        heading = result(driver, offering).find_element(By.TAG_NAME, "h3")
        assert name in heading.text
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert.text


def test_a_cross_site_form_cannot_hold_and_the_board_cannot_be_framed(
    hub: RunningHub, board: str, as_org, tmp_path: Path
) -> None:
    kenter = as_org("kenter")
    kenter.call(kenter.capacity.UpsertLocation, location("board-csrf", "Kenter CSRF-test"))
    offering = publish(kenter, "board-csrf", 2, 2)
    crisis = as_org("crisisdienst-zkh")

    def holds_on_offering() -> int:
        listed = crisis.call(crisis.capacity.ListHolds, capacity_pb2.ListHoldsRequest()).holds
        return sum(1 for h in listed if h.offering_id == offering)

    attacker = tmp_path / "attacker.html"
    attacker.write_text(
        f'<form id="f" method="post" action="{board}/board/vasthouden">'
        f'<input name="aanbod" value="{offering}"><input name="gemeente" value="GM0392">'
        f'<input name="csrf" value="guessed"></form>'
        f'<iframe id="frame" src="{board}/board/zoeken"></iframe>'
    )
    with browser(hub, "crisisdienst-zkh", tmp_path / "csrf") as driver:
        # A page of another origin that frames the board and posts a hold.
        driver.get(attacker.as_uri())
        time.sleep(1)
        driver.switch_to.frame(driver.find_element(By.ID, "frame"))
        assert "Spil-bord" not in driver.page_source
        driver.switch_to.default_content()
        driver.execute_script("document.getElementById('f').submit()")
        wait_for(driver, lambda d: "Geweigerd" in d.page_source)
    assert holds_on_offering() == 0

    # The same refusals without a browser: a cross-site request, and a form
    # token that was not made for this session.
    ca, cert, key = hub.credentials("crisisdienst-zkh")
    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(str(cert), str(key))
    body = f"aanbod={offering}&gemeente=GM0392&csrf=guessed".encode()
    for headers, status in (
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Origin": "https://evil.example"}, 403),
        ({"Sec-Fetch-Site": "same-origin", "Cookie": "spil_board=" + "a" * 32}, 403),
    ):
        request = urllib.request.Request(
            f"{board}/board/vasthouden", data=body, headers=headers, method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, context=context)
        assert refused.value.code == status, headers
        assert "frame-ancestors 'none'" in refused.value.headers["Content-Security-Policy"]
        assert refused.value.headers["X-Frame-Options"] == "DENY"
    assert holds_on_offering() == 0
