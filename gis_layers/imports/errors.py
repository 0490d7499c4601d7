from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.utils.translation import gettext as _


class ImportRefusal(Exception):
    """A whole file is refused (unreadable, unknown CRS, unsafe archive...): nothing is written.

    The message names the file and says what to do about it.
    """

    def __init__(self, message: str, *, path: str = ""):
        self.message = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


@dataclass(frozen=True)
class OptionWording:
    """How a refusal tells its reader to give what the import needs: the command's options
    (``import_layer``), or the upload form's fields (the web page has no mapping file)."""

    crs_asked: Callable[[str], str]  # a value to give for the CRS: "pass --crs EPSG:4326"
    crs_given: Callable[[str], str]  # the CRS the reader gave: "--crs EPSG:4326"
    column_asked: Callable[[str], str]  # how to name the file's column for a field


COMMAND_OPTIONS = OptionWording(
    crs_asked=lambda value: f"pass --crs {value}",
    crs_given=lambda value: f"--crs {value}",
    column_asked=lambda field: 'give a --mapping file such as {"' + field + '": "your column"}',
)
# The page's wording is rendered in the active language (the user's); each phrase is set into
# a refusal that is translated as a whole (crs.py, pipeline.py).
FORM_FIELDS = OptionWording(
    crs_asked=lambda value: _("enter %(value)s in the form's CRS field") % {"value": value},
    crs_given=lambda value: _("the CRS %(value)s") % {"value": value},
    column_asked=lambda field: _("name its column %(field)s in the file") % {"field": repr(field)},
)
# The wording in use: the command's, unless a caller (the upload page) says otherwise.
WORDING: ContextVar[OptionWording] = ContextVar("import_option_wording", default=COMMAND_OPTIONS)


@contextmanager
def worded_for(wording: OptionWording):
    token = WORDING.set(wording)
    try:
        yield
    finally:
        WORDING.reset(token)
