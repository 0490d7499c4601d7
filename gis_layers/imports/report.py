"""The import report: every rejected or repaired row with file, row, field and reason, on the
terminal and as CSV and HTML files."""

import csv
import html
import pathlib
from dataclasses import dataclass, field

from django.utils import translation
from django.utils.translation import gettext as _

from gis_layers.imports.preview import CHECK_COLOURS, MapPreview
from gis_layers.imports.validation import Finding


@dataclass
class ImportReport:
    file: str
    kind: str
    source_crs: str = ""
    read: int = 0
    accepted: int = 0
    written: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    preview: MapPreview | None = None  # the rows on a map, where asked for

    @property
    def rejected(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.action == "rejected"]

    @property
    def repaired(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.action == "repaired"]

    @property
    def committed(self) -> bool:
        return not self.rejected and not self.dry_run

    def summary(self) -> str:
        """A few lines on the whole file, in the active language (the upload page's user's;
        the command and the report files speak English, as the reasons do)."""
        rejected_rows = len({finding.row for finding in self.rejected})
        inserted, updated = self.written.get("inserted", 0), self.written.get("updated", 0)
        if self.dry_run:
            outcome = _("nothing written (dry run)")
        elif self.rejected:
            outcome = _("nothing written: %(rows)d row(s) rejected") % {"rows": rejected_rows}
        else:
            outcome = _(
                "written: %(inserted)d inserted, %(updated)d updated, %(unchanged)d unchanged"
            ) % {
                "inserted": inserted,
                "updated": updated,
                "unchanged": self.accepted - inserted - updated,
            }
        counts = _(
            "%(read)d read, %(accepted)d accepted, %(rejected)d rejected, %(repaired)d repaired"
        ) % {
            "read": self.read,
            "accepted": self.accepted,
            "rejected": rejected_rows,
            "repaired": len({finding.row for finding in self.repaired}),
        }
        lines = [
            _("%(file)s: %(kind)s, CRS %(crs)s")
            % {"file": self.file, "kind": self.kind, "crs": self.source_crs},
            f"  {counts}",
            *["  " + _("note: %(note)s") % {"note": note} for note in self.notes],
            f"  {outcome}",
        ]
        return "\n".join(lines)

    def rows(self) -> list[dict]:
        return [
            {
                "file": self.file,
                "row": finding.row,
                "field": finding.field,
                "action": finding.action,
                "reason": finding.reason,
            }
            for finding in sorted(self.findings, key=lambda finding: (finding.row, finding.action))
        ]

    def write(self, base: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
        """Write ``base``.csv and ``base``.html, in English like their reasons and columns;
        returns their paths."""
        with translation.override("en"):
            return self._write(base)

    def _write(self, base: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
        base.parent.mkdir(parents=True, exist_ok=True)
        csv_path, html_path = base.with_suffix(".csv"), base.with_suffix(".html")
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["file", "row", "field", "action", "reason"])
            writer.writeheader()
            writer.writerows(self.rows())
        body = "".join(
            f"<tr class='{html.escape(row['action'])}'><td>{row['row']}</td><td>{html.escape(row['field'])}</td>"
            f"<td>{html.escape(row['action'])}</td><td>{html.escape(row['reason'])}</td></tr>"
            for row in self.rows()
        )
        html_path.write_text(
            "<!doctype html><meta charset='utf-8'><title>Import report</title>"
            "<style>body{font-family:system-ui,sans-serif}td,th{padding:.2rem .5rem;border-bottom:1px solid #ddd}"
            ".rejected td{color:#a00}.key{display:inline-block;width:.8rem;height:.8rem;margin:0 .2rem 0 .8rem}</style>"
            f"<h1>Import report: {html.escape(self.file)}</h1><pre>{html.escape(self.summary())}</pre>"
            f"{self._map_html()}"
            f"<table><tr><th>row</th><th>field</th><th>action</th><th>reason</th></tr>{body}</table>",
            encoding="utf-8",
        )
        return csv_path, html_path

    def _map_html(self) -> str:
        """The drawn rows as a picture with its key, for the HTML file; empty without them."""
        if self.preview is None or not (picture := self.preview.svg()):
            return ""
        counts = self.preview.drawn_by_status
        key = "".join(
            f"<span class='key' style='background:{colour}'></span>{counts[status]} {status}"
            for status, colour in CHECK_COLOURS.items()
        )
        drawn = f"{self.preview.drawn} of the {self.preview.with_geometry} rows with a geometry"
        if self.preview.drawn < self.preview.with_geometry:
            drawn += ", those named below first"
        unreadable = self.preview.without_geometry
        if unreadable:
            drawn += f"; {unreadable} rejected row(s) have no geometry that could be drawn"
        return (
            f"<figure id='map'>{picture}<figcaption>{key}. Drawn: {drawn}. "
            "Point at a row for its reasons.</figcaption></figure>"
        )
