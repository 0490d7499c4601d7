class ImportRefusal(Exception):
    """A whole file is refused (unreadable, unknown CRS, unsafe archive...): nothing is written.

    The message names the file and says what to do about it.
    """

    def __init__(self, message: str, *, path: str = ""):
        self.message = message
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)
