"""PDF certificates and title extracts (reportlab, with its built-in Chinese CID font so that
no font file is needed), each with a drawing of the parcel to scale."""

import io

from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from registry.outline import draw

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _outline(pdf: canvas.Canvas, geometry, *, x: float, y: float, size: float) -> None:
    drawing = draw(geometry, size=size)
    pdf.setStrokeColorRGB(0.8, 0.8, 0.85)
    pdf.rect(x, y, size, size)
    pdf.setStrokeColorRGB(0.54, 0.29, 0.03)
    pdf.setFillColorRGB(0.95, 0.85, 0.64)
    path = pdf.beginPath()
    for ring in drawing.rings:
        (first_x, first_y), *rest = ring
        # Drawing units grow downwards; PDF's upwards.
        path.moveTo(x + first_x, y + size - first_y)
        for point_x, point_y in rest:
            path.lineTo(x + point_x, y + size - point_y)
        path.close()
    pdf.drawPath(path, stroke=1, fill=1, fillMode=1)
    pdf.setFillColorRGB(0, 0, 0)
    pdf.setStrokeColorRGB(0, 0, 0)
    pdf.line(x + 6, y + 6, x + 6 + drawing.bar_units, y + 6)
    pdf.setFont(FONT, 8)
    pdf.drawString(x + 6, y + 9, f"{drawing.bar_m:g} m")
    pdf.drawString(x + size - 16, y + size - 12, "N ↑")


def _lines(pdf: canvas.Canvas, lines: list[tuple[str, str]], *, x: float, y: float) -> float:
    for label, value in lines:
        pdf.setFont(FONT, 10)
        pdf.drawString(x, y, label)
        pdf.drawString(x + 48 * mm, y, value)
        y -= 6.5 * mm
    return y


def ended_text(right) -> str:
    """When and by which act a certified right ended."""
    by = f" (act {right.cancelled_by.number})" if right.cancelled_by_id else ""
    return f"{right.valid_to.isoformat()}{by}"


def certificate_pdf(*, certificate, title, holders: list[dict]) -> bytes:
    """One A4 page: number, unit, right, holders, the parcel drawn, journal position and hash."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setTitle(certificate.number)
    width, height = A4
    pdf.setFont(FONT, 18)
    pdf.drawCentredString(width / 2, height - 30 * mm, certificate.get_kind_display())
    pdf.setFont(FONT, 12)
    pdf.drawCentredString(width / 2, height - 40 * mm, certificate.number)
    right = certificate.right
    parcel = title.parcel
    lines = [
        ("不动产单元号 Unit code", parcel.unit_code if parcel else str(title)),
        ("权利类型 Right", right.get_kind_display()),
        ("权利人 Holders", "; ".join(f"{row['party']} {row['share']}" for row in holders) or "—"),
        (
            "坐落 Location",
            (parcel.address or parcel.name or parcel.district.name) if parcel else "—",
        ),
        ("用途 Land use", f"{parcel.land_use}" if parcel else "—"),
        ("面积 Area", f"{parcel.area_m2:,.1f} m²" if parcel else "—"),
        ("生效日期 In force from", right.valid_from.isoformat()),
        (
            "登簿时间 Registered",
            timezone.localtime(certificate.issued_at).strftime("%Y-%m-%d %H:%M"),
        ),
        ("受理编号 Act", certificate.act.number),
    ]
    if right.valid_to is not None:
        # A copy printed later must not pass for a current title.
        lines.append(("已失效 No longer in force", ended_text(right)))
    y = _lines(pdf, lines, x=20 * mm, y=height - 58 * mm)
    if parcel is not None:
        _outline(pdf, parcel.geom, x=20 * mm, y=y - 75 * mm, size=70 * mm)
    pdf.setFont(FONT, 8)
    pdf.drawString(20 * mm, 30 * mm, f"Journal entry 登簿流水 #{certificate.journal_position}")
    pdf.drawString(20 * mm, 25 * mm, f"SHA-256 {certificate.journal_hash}")
    pdf.drawString(
        20 * mm,
        20 * mm,
        "Check at /verify/ with the number and this hash. 可凭编号与哈希在 /verify/ 核验。",
    )
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def title_extract_pdf(*, title, rights, chain, on) -> bytes:
    """The title's rights in force on ``on`` and its registration history."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    width, height = A4
    pdf.setTitle(f"Title extract {title}")
    pdf.setFont(FONT, 16)
    pdf.drawString(20 * mm, height - 25 * mm, f"不动产登记簿摘录 Title extract — {title}")
    pdf.setFont(FONT, 10)
    pdf.drawString(20 * mm, height - 32 * mm, f"As of 截至 {on.isoformat()}")
    y = height - 45 * mm
    if title.parcel_id:
        _outline(pdf, title.parcel.geom, x=width - 75 * mm, y=height - 100 * mm, size=55 * mm)
    pdf.setFont(FONT, 12)
    pdf.drawString(20 * mm, y, "权利 Rights in force")
    y -= 7 * mm
    for right in rights:
        holders = "; ".join(
            f"{share.party.name} {share.share_parts}/{right.share_denominator}"
            for share in right.shares.all()
        )
        y = _lines(
            pdf,
            [(right.get_kind_display(), f"{holders} (from {right.valid_from})")],
            x=20 * mm,
            y=y,
        )
    y -= 4 * mm
    pdf.setFont(FONT, 12)
    pdf.drawString(20 * mm, y, "登记历史 Registration history")
    y -= 7 * mm
    for act in chain:
        if y < 25 * mm:
            pdf.showPage()
            y = height - 25 * mm
        y = _lines(
            pdf,
            [(act.effective_date.isoformat(), f"{act.get_act_type_display()} {act.number}")],
            x=20 * mm,
            y=y,
        )
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
