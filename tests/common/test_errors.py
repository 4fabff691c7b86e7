"""How entry scripts report errors (common/errors.py): a user error is one ``error:`` line and status 1, ``debug``
re-raises it, anything else keeps its traceback."""
import traceback

import pytest

from common.errors import UserError, run_reporting_user_errors


class MissingSnapshot(UserError):
    """A UserError subclass, as the modules raise them."""


def test_success_returns_0_and_prints_nothing(capsys):
    calls = []
    assert run_reporting_user_errors(lambda: calls.append("ran")) == 0
    assert calls == ["ran"]
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("error_type", [UserError, MissingSnapshot])
def test_user_error_is_one_error_line_on_stderr_and_status_1(capsys, error_type):
    message = "--test_epoch 3: cannot find model at output/model_dump/snapshot_3.pth.tar; pass an existing --test_epoch"

    def fn():
        raise error_type(message)

    assert run_reporting_user_errors(fn) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"error: {message}\n"  # exactly one line, no traceback


def test_debug_reraises_the_user_error(capsys):
    raised = MissingSnapshot("no snapshot")

    def fn():
        raise raised

    with pytest.raises(MissingSnapshot) as excinfo:
        run_reporting_user_errors(fn, debug=True)
    assert excinfo.value is raised
    assert excinfo.traceback[-1].name == "fn"  # the traceback reaches the raising line
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("debug", [False, True])
def test_other_exceptions_propagate_with_their_traceback(capsys, debug):
    def broken_step():
        return {}["missing key"]

    def fn():
        broken_step()

    with pytest.raises(KeyError) as excinfo:
        run_reporting_user_errors(fn, debug=debug)
    assert excinfo.value.args == ("missing key",)
    frames = [frame.name for frame in traceback.extract_tb(excinfo.value.__traceback__)]
    assert frames[-3:] == ["run_reporting_user_errors", "fn", "broken_step"]
    assert capsys.readouterr() == ("", "")  # not turned into an error: line
