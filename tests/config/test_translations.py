"""The Chinese catalogue against the code: every message the Python code marks for
translation has a Chinese translation, so that no English sentence turns up on a page
whose language is Chinese (the site's default)."""

import re
import subprocess

from django.conf import settings

# The keywords Django's makemessages gives xgettext for Python, besides xgettext's own
# (gettext, ngettext, _).
KEYWORDS = [
    "gettext_noop",
    "gettext_lazy",
    "ngettext_lazy:1,2",
    "pgettext:1c,2",
    "npgettext:1c,2,3",
    "pgettext_lazy:1c,2",
    "npgettext_lazy:1c,2,3",
    # The analyses' sentences, worded in the reader's language where shown (gis_layers.wording).
    "Sentence",
]


def project_python_files() -> list[str]:
    """The project's own Python files that people's text can come from: not the tests, the
    benchmarks or the migrations."""
    listed = subprocess.run(
        ["git", "ls-files", "*.py"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [
        path
        for path in listed
        if not path.startswith(("tests/", "bench/")) and "/migrations/" not in path
    ]


def untranslated(template, complaints: str) -> str:
    """msgcmp's complaints as the messages they are about, each with where the code has it:
    msgcmp names only a line of the template, inside the message's entry."""
    entries, first_line = [], 1
    for entry in template.read_text().split("\n\n"):
        entries.append((first_line, entry))
        first_line += entry.count("\n") + 2
    shown = []
    for line in map(int, re.findall(r"^.*?\.pot:(\d+): ", complaints, flags=re.MULTILINE)):
        entry = next(text for start, text in reversed(entries) if start <= line)
        shown.append(
            "\n".join(part for part in entry.splitlines() if part.startswith(("#:", "msgid", '"')))
        )
    return "\n\n".join(shown) or complaints


def test_every_message_of_the_python_code_has_a_chinese_translation(tmp_path):
    template = tmp_path / "python.pot"
    subprocess.run(
        [
            "xgettext",
            "--language=Python",
            "--from-code=UTF-8",
            *[f"--keyword={keyword}" for keyword in KEYWORDS],
            f"--output={template}",
            *project_python_files(),
        ],
        cwd=settings.BASE_DIR,
        check=True,
    )
    catalogue = settings.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    # msgcmp fails on a message missing from the catalogue, untranslated or fuzzy there, and
    # names each one with its place in the code.
    compared = subprocess.run(
        ["msgcmp", "--no-fuzzy-matching", str(catalogue), str(template)],
        capture_output=True,
        text=True,
    )
    assert compared.returncode == 0, untranslated(template, compared.stderr)
    assert "python-format" in template.read_text()  # the code's messages were found at all
