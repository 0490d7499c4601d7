"""Charts drawn as inline SVG on the server: they render in the page and in print, with no
image service and no script."""

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext


def bar_chart(
    items: Sequence[tuple[str, float] | tuple[str, float, str]],
    *,
    unit: str,
    colours: dict[str, str] | None = None,
    width: int = 460,
    bar: int = 16,
) -> SafeString:
    """Horizontal bars, one per (label, value), longest scaled to the chart's width. A bar's
    colour is that of ``colours`` for its key: the item's third element where it has one (a
    label in the reader's language), else the label's first word (a class code)."""
    if not items:
        return format_html("<p class='muted'>{}</p>", gettext("no data"))
    label_width, value_width = 150, 90
    largest = max(item[1] for item in items) or 1.0
    scale = (width - label_width - value_width) / largest
    rows = format_html_join(
        "",
        '<text x="0" y="{}" font-size="11">{}</text>'
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"></rect>'
        '<text x="{}" y="{}" font-size="11">{}</text>',
        (
            (
                index * (bar + 6) + bar - 4,
                label,
                label_width,
                index * (bar + 6),
                f"{value * scale:.1f}",
                bar,
                (colours or {}).get(key[0] if key else label.split(" ")[0], "#5b8fd6"),
                label_width + value * scale + 4,
                index * (bar + 6) + bar - 4,
                f"{value:,.0f} {unit}",
            )
            for index, (label, value, *key) in enumerate(items)
        ),
    )
    height = len(items) * (bar + 6)
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{}" height="{}" role="img">{}</svg>',
        width,
        height,
        rows,
    )
