"""Refusals of the register. Each says which rule failed and on which title."""


class RegisterError(Exception):
    """Base of every refusal; ``rule`` is a stable code, ``title`` the title's label."""

    rule = "register"

    def __init__(self, message: str, *, title: str = "", rule: str | None = None):
        self.message = message
        self.title = title
        if rule:
            self.rule = rule
        super().__init__(f"{title}: {message}" if title else message)

    def as_dict(self) -> dict:
        return {"rule": self.rule, "title": self.title, "message": self.message}


class RuleViolation(RegisterError):
    """The act breaks a rule of the register; nothing was changed."""

    rule = "rule"


class InvalidApplication(RegisterError):
    """The application itself is malformed (missing field, unknown party...)."""

    rule = "invalid_application"


class ConflictError(RegisterError):
    """The act was based on a version of a title that has since changed (HTTP 409)."""

    rule = "stale_version"


class NotAllowed(RegisterError):
    """The user may not take this step (role, or examiner approving their own case)."""

    rule = "not_allowed"


class WrongState(RegisterError):
    """The act is not in the state this step needs (e.g. approving an unexamined act)."""

    rule = "wrong_state"
