"""The demo's error for bad input."""
from common.errors import UserError


class DemoError(UserError, RuntimeError):
    """Bad demo input; the message names the file or flag and the fix."""
