"""The import report: every rejected or repaired row with file, row, field and reason, on the
terminal and as CSV and HTML files."""

import csv
import html
import pathlib
from dataclasses import dataclass, field

from django.utils import translation
from django.utils.translation import gettext as _

from gis_layers.imports.preview import CHECK_COLOURS, CHECK_STATUS_NAMES, MapPreview
from gis_layers.imports.schema import KIND_LABELS
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
        """A few lines on the whole file, in the active language: the upload page's user's,
        English on the command line (as the reasons, which are worded as they are found)."""
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
            % {"file": self.file, "kind": KIND_LABELS[self.kind], "crs": self.source_crs},
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
        """Write ``base``.csv and ``base``.html; returns their paths. Both speak the active
        language, as the reasons do. The CSV's column names and its actions (rejected,
        repaired) stay English whatever the language: they are keys a program may read."""
        base.parent.mkdir(parents=True, exist_ok=True)
        csv_path, html_path = base.with_suffix(".csv"), base.with_suffix(".html")
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["file", "row", "field", "action", "reason"])
            writer.writeheader()
            writer.writerows(self.rows())
        body = "".join(
            f"<tr class='{html.escape(row['action'])}'><td>{row['row']}</td><td>{html.escape(row['field'])}</td>"
            f"<td>{html.escape(str(CHECK_STATUS_NAMES[row['action']]))}</td><td>{html.escape(row['reason'])}</td></tr>"
            for row in self.rows()
        )
        title = _("Import report: %(file)s") % {"file": self.file}
        headings = "".join(
            f"<th>{html.escape(heading)}</th>"
            for heading in (_("Row"), _("Field"), _("Action"), _("Reason"))
        )
        html_path.write_text(
            f"<!doctype html><html lang='{translation.get_language() or 'en'}'>"
            f"<meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:system-ui,sans-serif}td,th{padding:.2rem .5rem;border-bottom:1px solid #ddd}"
            ".rejected td{color:#a00}.key{display:inline-block;width:.8rem;height:.8rem;margin:0 .2rem 0 .8rem}</style>"
            f"<h1>{html.escape(title)}</h1><pre>{html.escape(self.summary())}</pre>"
            f"{self._map_html()}"
            f"<table><tr>{headings}</tr>{body}</table>",
            encoding="utf-8",
        )
        return csv_path, html_path

    def _map_html(self) -> str:
        """The drawn rows as a picture with its key, for the HTML file; empty without them."""
        if self.preview is None or not (picture := self.preview.svg()):
            return ""
        counts = self.preview.drawn_by_status
        key = "".join(
            f"<span class='key' style='background:{colour}'></span>{counts[status]}"
            f" {html.escape(str(CHECK_STATUS_NAMES[status]))}"
            for status, colour in CHECK_COLOURS.items()
        )
        figures = {"drawn": self.preview.drawn, "rows": self.preview.with_geometry}
        if self.preview.drawn < self.preview.with_geometry:
            drawn = _(
                "Drawn: %(drawn)s of the %(rows)s rows with a geometry, those named below first."
            )
        else:
            drawn = _("Drawn: %(drawn)s of the %(rows)s rows with a geometry.")
        caption = [drawn % figures]
        if self.preview.without_geometry:
            caption.append(
                _("%(rows)s rejected row(s) have no geometry that could be drawn.")
                % {"rows": self.preview.without_geometry}
            )
        caption.append(_("Point at a row for its reasons."))
        return (
            f"<figure id='map'>{picture}<figcaption>{key}. "
            f"{html.escape(' '.join(caption))}</figcaption></figure>"
        )
