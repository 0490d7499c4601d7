"""Sentences for people that the analyses write, kept apart from their language.

A :class:`Sentence` holds its English wording, a message of the site's catalogue with
``%(name)s`` for each value, and the values, numbers already formatted; a value may be a
sentence itself. ``str()`` gives the English, as the command line and the tests read it; a
page words it in its reader's language (:func:`gis_layers.wording.in_reader_language`), also
when the sentence comes from a kept report (:meth:`Sentence.as_json`). The analyses stay free
of Django.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sentence:
    wording: str
    values: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.wording % {name: str(value) for name, value in self.values.items()}

    def as_json(self) -> dict:
        """The sentence as a kept report holds it: its wording and values, for the page that
        shows it to word in its reader's language."""
        return {
            "wording": self.wording,
            "values": {
                name: value.as_json() if isinstance(value, Sentence) else value
                for name, value in self.values.items()
            },
        }
