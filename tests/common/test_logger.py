"""The logger (common/logger.py): the per-iteration log line, the speed timer, the log file and the console."""
import logging
import re
from types import SimpleNamespace

from common import logger as logger_module
from common.logger import GREEN, Timer, format_train_line, make_logger


def test_train_line_has_the_original_format():
    line = format_train_line(3, 13, 250, 5000, 1e-5, 1.2345, 0.9876, 0.0012,
                             {"joint_fit": 0.123456, "mesh_edge": 2.0})
    assert line == ("Epoch 3/13 itr 250/5000: lr: 1e-05 speed: 1.23(0.99s r0.00)s/itr 1.71h/epoch "
                    "loss_joint_fit: 0.1235 loss_mesh_edge: 2.0000")


def test_timer_ignores_the_first_ten_measurements(monkeypatch):
    """On a fake clock every duration is known: toc returns it, average is the mean of the 11th call onwards."""
    now = [100.0]
    monkeypatch.setattr(logger_module, "time", SimpleNamespace(perf_counter=lambda: now[0]))  # this module only

    def measure(seconds: float) -> float:
        timer.tic()
        now[0] += seconds
        return timer.toc()

    timer = Timer()
    assert [measure(5.0) for _ in range(10)] == [5.0] * 10
    assert timer.average == 0.0 and timer.calls == 10
    assert measure(1.0) == 1.0 and timer.average == 1.0
    assert measure(2.5) == 2.5 and timer.average == 1.75 and timer.calls == 12


def test_log_file_has_no_colour_and_a_time_stamp(tmp_path, capsys):
    logger = make_logger("unit", tmp_path / "log" / "train_logs.txt")
    logger.info("Creating dataset...")
    for handler in logger.handlers:
        handler.flush()
    text = (tmp_path / "log" / "train_logs.txt").read_text()
    assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d:\d\d Creating dataset\.\.\.\n", text)
    assert GREEN not in text
    out = capsys.readouterr().out
    assert "Creating dataset..." in out and GREEN not in out  # captured stdout is not a terminal: no colour
    make_logger("unit", tmp_path / "log" / "train_logs.txt")  # re-creating does not duplicate the handlers
    assert len(logging.getLogger("i2l.unit").handlers) == 2
