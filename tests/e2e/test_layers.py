"""A registrar uploads a survey in Chromium, reads the check's report, confirms it; an
auditor downloads a layer."""

import re

import pyogrio
import pytest
from playwright.sync_api import expect

from registry.models import Parcel
from tests.e2e.conftest import log_in
from tests.e2e.test_login_and_admin import screenshot
from tests.gis_layers.test_import import squares

pytestmark = pytest.mark.e2e
MB = 1024 * 1024


def test_upload_is_checked_then_imported_on_confirmation(page, tmp_path, settings):
    settings.LANDLEDGER_BASEMAP_URL = ""  # plain mode: the check's map needs nothing outside
    frame = squares(4, start=501)
    path = tmp_path / "survey.gpkg"
    frame.to_file(path)
    log_in(page, "registrar")
    page.goto("/layers/import/")
    page.select_option("#id_kind", "parcels")
    page.set_input_files("#id_file", str(path))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#import-summary")).to_contain_text("4 read, 4 accepted, 0 rejected")
    screenshot(page, "import-checked")
    assert not Parcel.objects.filter(unit_code=frame.unit_code[0]).exists()
    page.click("#confirm-import button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("4 inserted")
    assert Parcel.objects.filter(unit_code__in=list(frame.unit_code)).count() == 4
    assert page.external_requests == [] and page.console_errors == []


def test_a_sent_upload_says_it_is_being_checked_and_cannot_be_sent_twice(page, tmp_path):
    path = tmp_path / "survey.gpkg"
    squares(1, start=701).to_file(path)
    log_in(page, "registrar")
    page.goto("/layers/import/")
    page.set_input_files("#id_file", str(path))
    # The upload is held on its way (never answered), so that the page can be looked at sent.
    page.route(
        "**/layers/import/",
        lambda route: None if route.request.method == "POST" else route.continue_(),
    )
    # Pressed and looked at from the page's script, at once: Playwright's own clicks and
    # assertions would wait for the page the upload opens, which never comes.
    note, disabled = page.eval_on_selector(
        "#upload-form button[type=submit]",
        "button => { button.click(); "
        "return [button.form.querySelector('.busy-note').textContent, button.disabled]; }",
    )
    assert "checking the file" in note and disabled


# Kept by the page in the tab's session storage, which outlives it: what its progress box
# showed each time it changed, while the check ran.
RECORD_PROGRESS = """() => {
  const seen = [];
  new MutationObserver(() => {
    const box = document.querySelector(".import-progress");
    if (!box || !box.dataset.stage) return;
    const bar = box.querySelector("progress");
    seen.push({stage: box.dataset.stage, text: box.textContent,
               value: bar.hasAttribute("value") ? bar.value : null});
    sessionStorage.setItem("progress-seen", JSON.stringify(seen));
  }).observe(document.body, {subtree: true, childList: true, characterData: true,
                             attributes: true});
}"""


def test_a_check_shows_how_far_it_has_got_while_it_runs(page, tmp_path, settings):
    settings.LANDLEDGER_UPLOAD_DIR = str(tmp_path / "uploads")
    settings.LANDLEDGER_BASEMAP_URL = ""
    # Enough rows for the check to take a few seconds, while the page asks every 0.7 s.
    frame = squares(60_000, start=10_001)
    frame.geometry = frame.translate(0, 0.01)  # clear of the surveys the tests above import
    path = tmp_path / "large-survey.gpkg"
    frame.to_file(path)
    log_in(page, "registrar")
    page.goto("/layers/import/")
    page.evaluate(RECORD_PROGRESS)
    page.set_input_files("#id_file", str(path))
    # The file's bytes go out at 4 MB a second, so that the page can show them going.
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 4 * MB},
    )
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#import-summary")).to_contain_text(
        "60000 read, 60000 accepted", timeout=120_000
    )
    seen = page.evaluate("() => JSON.parse(sessionStorage.getItem('progress-seen'))")
    sending = [state for state in seen if state["stage"] == "sending"]
    totals = {
        float(total) for state in sending for total in re.findall(r"of ([\d.]+) MB", state["text"])
    }
    assert totals and all(abs(total - path.stat().st_size / MB) < 0.06 for total in totals), seen
    assert all(0 < state["value"] <= 1 for state in sending), seen
    assert "MB a second, about" in sending[-1]["text"]
    reading = [state for state in seen if state["stage"] == "reading"]
    counted = [state for state in reading if "of 60,000" in state["text"]]
    assert counted and all(0 < state["value"] <= 1 for state in counted), seen
    assert "a second, about" in counted[-1]["text"]
    stages = [state["stage"] for state in seen]
    assert stages == sorted(stages, key=["sending", "reading", "checking"].index), seen
    # A stage of single statements has no count: its bar only says the work goes on.
    assert all(state["value"] is None for state in seen if state["stage"] == "checking")
    assert page.external_requests == [] and page.console_errors == []


def test_bad_upload_shows_each_rejected_row(page, tmp_path, settings):
    settings.LANDLEDGER_BASEMAP_URL = ""
    frame = squares(2, start=601)
    # Clear of the survey the test above imports, which may still be in the register.
    frame.geometry = frame.translate(0.01, 0)
    frame.loc[1, "land_use"] = "0000"
    path = tmp_path / "bad.gpkg"
    frame.to_file(path)
    log_in(page, "registrar")
    page.goto("/layers/import/")
    page.set_input_files("#id_file", str(path))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#import-findings")).to_contain_text(
        "'0000' is not a GB/T 21010-2017 second-level class"
    )
    expect(page.locator("#confirm-import")).to_have_count(0)
    # The map draws both rows where they lie; the rejected one's popup gives its reason.
    expect(page.locator("#map-frame path.check-accepted")).to_have_count(1)
    rejected = page.locator("#map-frame path.check-rejected")
    expect(rejected).to_have_count(1)
    rejected.click()
    expect(page.locator(".leaflet-popup-content")).to_contain_text(
        "'0000' is not a GB/T 21010-2017 second-level class"
    )
    screenshot(page, "import-rejected")
    # A row of the report's table, clicked, is shown on the map with its popup.
    page.locator(".leaflet-popup-close-button").click()
    expect(page.locator(".leaflet-popup-content")).to_have_count(0)
    page.click("#import-findings tr.on-map[data-row='2']")
    expect(page.locator(".leaflet-popup-content")).to_contain_text("'0000' is not")
    assert page.external_requests == [] and page.console_errors == []


def test_auditor_downloads_a_geopackage_of_parcels(page, tmp_path):
    log_in(page, "auditor")
    page.goto("/layers/export/")
    page.select_option("select[name=kind]", "parcels")
    page.select_option("select[name=format]", "gpkg")
    with page.expect_download() as download:
        page.click("#export-form button[type=submit]")
    target = tmp_path / download.value.suggested_filename
    download.value.save_as(target)
    assert (
        pyogrio.read_info(target)["features"]
        == Parcel.objects.filter(valid_to__isnull=True).count()
    )


def test_a_file_the_server_will_not_take_is_said_so_and_the_form_is_free_again(
    page, tmp_path, settings
):
    settings.LANDLEDGER_BASEMAP_URL = ""  # plain mode: the check's map needs nothing outside
    settings.LANDLEDGER_UPLOAD_MAX_BYTES = MB
    log_in(page, "registrar")
    page.goto("/layers/import/")
    sent = []
    page.on(
        "request", lambda request: sent.append(request.url) if "/send/" in request.url else None
    )
    # Larger than the server takes: refused at once, nothing sent.
    large = tmp_path / "large.gpkg"
    large.write_bytes(bytes(2 * MB))
    page.set_input_files("#id_file", str(large))
    page.click("#upload-form button[type=submit]")
    refusal = page.locator(".import-progress[data-stage=failed]")
    expect(refusal).to_contain_text("The file could not be sent: The file is larger than 1 MB.")
    assert sent == []
    # Of a kind the server does not take: refused by the server.
    path = tmp_path / "notes.txt"
    path.write_text("not a layer")
    page.set_input_files("#id_file", str(path))
    page.click("#upload-form button[type=submit]")
    expect(refusal).to_contain_text("The file could not be sent: Give one of: .gpkg")
    assert len(sent) == 1
    expect(page.locator("#upload-form button[type=submit]")).to_be_enabled()
    expect(page.locator("#upload-form .busy-note")).to_have_count(0)
    # Another file, chosen and sent, is checked as usual; the refusal gives way.
    survey = tmp_path / "survey.gpkg"
    frame = squares(1, start=801)
    frame.geometry = frame.translate(0, -0.01)  # clear of the surveys the other tests import
    frame.to_file(survey)
    page.set_input_files("#id_file", str(survey))
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#import-summary")).to_contain_text("1 read, 1 accepted")
    expect(page.locator(".import-progress[data-stage=failed]")).to_have_count(0)
    assert page.external_requests == []
