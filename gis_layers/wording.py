"""The analyses' sentences (:mod:`gis_layers.analysis.sentences`) worded in the reader's
language, where a page or a file shows them."""

from django.utils.translation import gettext

from gis_layers.analysis.sentences import Sentence


def in_reader_language(sentence: Sentence | dict | str) -> str:
    """A sentence worded in the active language: a :class:`Sentence`, or one as a kept report
    holds it (:meth:`Sentence.as_json`); text that is no sentence is returned as it is."""
    if isinstance(sentence, Sentence):
        sentence = sentence.as_json()
    if not isinstance(sentence, dict):
        return sentence
    values = {name: in_reader_language(value) for name, value in sentence["values"].items()}
    return gettext(sentence["wording"]) % values


def space_report_in_reader_language(report: dict) -> dict:
    """The office-space report (:func:`gis_layers.space_report.space_report`, as kept) with
    its sentences worded in the active language. Only the parts that hold sentences are
    copied: the plan's flows and rooms, tens of thousands of rows in a large city, are not
    walked."""

    def plan(part: dict | None) -> dict | None:
        if part is None:
            return None
        return {
            **part,
            "reasons": [in_reader_language(reason) for reason in part["reasons"]],
            "skipped": [in_reader_language(line) for line in part["skipped"]],
        }

    return {
        **report,
        "problems": [
            {**problem, "message": in_reader_language(problem["message"])}
            for problem in report["problems"]
        ],
        "mismatches": [
            {
                **mismatch,
                "where": in_reader_language(mismatch["where"]),
                "detail": in_reader_language(mismatch["detail"]),
            }
            for mismatch in report["mismatches"]
        ],
        "plan": plan(report["plan"]),
        "scenario": plan(report["scenario"]),
    }
