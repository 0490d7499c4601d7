"""A registrar lodges a transfer at the desk, a supervisor approves it, the certificate is
printed, and the public check accepts it and rejects an altered hash: in Chromium."""

import io
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from registry.models import Party, Right, RightKind
from tests.e2e.conftest import log_in
from tests.e2e.test_login_and_admin import SCREENSHOTS, screenshot

pytestmark = pytest.mark.e2e


def transferable_demo_title() -> tuple[Right, Party, Party]:
    """A current land-use right on an open, unseized demo title, its holder and a buyer."""
    seized = Right.objects.filter(kind=RightKind.SEIZURE, valid_to__isnull=True).values("title")
    right = (
        Right.objects.filter(
            kind=RightKind.LAND_USE_RIGHT,
            valid_to__isnull=True,
            title__is_open=True,
            land_use_right_type="granted",
        )
        .exclude(title__in=seized)
        .order_by("id")
        .first()
    )
    holder = right.holders.get()
    buyer = Party.objects.exclude(pk=holder.pk).filter(name__startswith="Demo enterprise").first()
    return right, holder, buyer


def test_lodge_approve_print_and_verify_a_transfer(page, tmp_path):
    right, seller, buyer = transferable_demo_title()
    unit_code = right.title.parcel.unit_code

    log_in(page, "registrar")
    page.goto("/registry/")
    page.fill("#q", unit_code)
    page.click("button[type=submit]:has-text('Search')")
    page.click(f"#results a:has-text('{unit_code}')")
    expect(page.locator("#rights")).to_contain_text(seller.name)
    page.click("#lodge-links a[href$='/lodge/transfer/']")
    page.select_option("#id_right", str(right.pk))
    page.select_option("#id_transferors", [str(seller.pk)])
    page.select_option("#id_holder_1", str(buyer.pk))
    page.fill("#id_effective_date", "2026-01-05")
    deed = tmp_path / "deed.pdf"
    deed.write_bytes(b"%PDF-1.4 deed of transfer, demo")
    page.set_input_files("#id_sources", str(deed))
    screenshot(page, "desk-lodge-transfer")
    page.click("#lodge-form button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("lodged")
    expect(page.locator("#sources")).to_contain_text("deed.pdf")
    act_url = page.url
    page.click("button[value=examine]")
    expect(page.locator("#act-status")).to_contain_text("examined")
    expect(page.locator("button[value=approve]")).to_have_count(0)  # a registrar cannot approve
    page.click("header button:has-text('Log out')")

    log_in(page, "registration_supervisor")
    page.goto("/registry/")
    expect(page.locator("#queue-decide")).to_contain_text(unit_code)
    page.goto(act_url)
    page.click("button[value=approve]")
    expect(page.locator("#act-status")).to_contain_text("registered")
    screenshot(page, "desk-act-registered")
    page.click("#certificates a")
    number = page.locator("#certificate-number").inner_text().strip()
    journal_hash = page.locator("#journal-hash").inner_text().strip()
    assert re.fullmatch(r"赫\(\d{4}\)赫尔辛基中心区不动产权第\d{7}号", number)
    expect(page.locator("#certificate")).to_contain_text(buyer.name)
    screenshot(page, "certificate")
    printed = page.pdf(path=str(SCREENSHOTS / "certificate-printed.pdf"), format="A4")
    printed_text = PdfReader(io.BytesIO(printed)).pages[0].extract_text()
    assert journal_hash[:32] in printed_text.replace("\n", "")
    assert "Registrar's desk" not in printed_text  # the print stylesheet hides the page chrome
    pdf = page.request.get(page.url + "pdf/")
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    page.click("header button:has-text('Log out')")

    page.goto("/verify/")
    page.fill("#id_number", number)
    page.fill("#id_journal_hash", journal_hash)
    page.click("#verify-form button[type=submit]")
    expect(page.locator("#verify-result")).to_contain_text("Matches the register")
    screenshot(page, "verify-match")
    altered = journal_hash[:10] + ("a" if journal_hash[10] != "a" else "b") + journal_hash[11:]
    page.fill("#id_journal_hash", altered)
    page.click("#verify-form button[type=submit]")
    expect(page.locator("#verify-result")).to_contain_text("Does not match")
    screenshot(page, "verify-altered")
    assert page.external_requests == []
    assert page.console_errors == []
