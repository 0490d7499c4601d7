"""The analyses' sentences (:mod:`gis_layers.analysis.sentences`) worded in the reader's
language, where a page or a file shows them."""

from django.utils.translation import gettext

from gis_layers.analysis.sentences import Sentence

SENTENCE_KEYS = {"wording", "values"}


def in_reader_language(value):
    """``value`` with every sentence in it worded in the active language: a sentence, or a
    kept report (lists and dicts, the sentences in it as :meth:`Sentence.as_json` keeps them).
    Everything else is returned as it is."""
    if isinstance(value, Sentence):
        value = value.as_json()
    if isinstance(value, dict):
        if value.keys() == SENTENCE_KEYS:
            values = {name: in_reader_language(item) for name, item in value["values"].items()}
            return gettext(value["wording"]) % values
        return {key: in_reader_language(item) for key, item in value.items()}
    if isinstance(value, list):
        return [in_reader_language(item) for item in value]
    return value
