"""The browser demo: ``python demo/app.py --model_path SNAPSHOT`` serves a page where an image or a video is
uploaded and its meshes come back (docs/webapp.md).

The page runs the command-line demo's pipeline (:mod:`main.predictor.webapp_jobs`) with the networks loaded once at
start-up; :mod:`main.predictor.webapp_page` lays the page out.  Offline and private by default: 127.0.0.1, no share
link, no analytics, every asset served by the app itself.  Uploads and results live in one temporary folder,
removed when the app stops.  One job runs at a time (``--concurrency``), uploads are limited in size, pixels and
length.
"""
from __future__ import annotations

import argparse
import copy
import errno
import itertools
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from common.errors import run_reporting_user_errors
from common.utils.io import pid_alive
from main.cli import wants_debug
from main.predictor.errors import DemoError
from main.predictor.options import build_parser, check_args
from main.predictor.webapp_jobs import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_UPLOAD_MB,
    DEFAULT_MAX_VIDEO_S,
    JobRequest,
    JobResult,
    Limits,
    Models,
    run_job,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
MAX_QUEUE = 16  # jobs waiting at most; the next upload is told the queue is full
KEPT_JOBS = 2  # finished job folders kept beside the running ones (Gradio copies what it shows into its cache)
WORKDIR_PREFIX = "i2l_webapp"
CACHE_CLEANUP = (1800, 3600)  # Gradio's cache: every 30 minutes, files older than an hour are removed
# The demo's flags that the page sets for each job: refused at start-up (the page never names a server path).
PAGE_FLAGS = ("img", "img_dir", "video", "bbox", "bbox_json", "keypoints_json", "root_depth", "start", "end",
              "out_dir", "princpt")


def build_app_parser() -> argparse.ArgumentParser:
    """The demo's parser (snapshot, ``--human_model_dir``, ``--amp`` ... and the page's option defaults) with the
    app's flags; the per-job input flags are hidden and refused by :func:`parse_app_args`."""
    parser = build_parser()
    parser.description = ("I2L-MeshNet in the browser: upload an image or a video, look at the meshes, download the "
                          "results (docs/webapp.md). The demo's flags set the model and the page's defaults.")
    for action in parser._actions:  # argparse has no public way to hide an inherited flag's help
        if action.dest in PAGE_FLAGS:
            action.help = argparse.SUPPRESS
    app = parser.add_argument_group("web app")
    app.add_argument("--host", default=DEFAULT_HOST,
                     help=f"address to serve on (default {DEFAULT_HOST}: this machine only; 0.0.0.0: the network)")
    app.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    app.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default: "
                     "the app makes no request to any outside host)")
    app.add_argument("--concurrency", type=int, default=1,
                     help="jobs run at the same time (default 1, right for a CPU; raise it on a large GPU)")
    app.add_argument("--max_upload_mb", type=float, default=DEFAULT_MAX_UPLOAD_MB,
                     help=f"largest upload in MB (default {DEFAULT_MAX_UPLOAD_MB:g})")
    app.add_argument("--max_pixels", type=int, default=DEFAULT_MAX_PIXELS,
                     help=f"most pixels of an image or a video frame (default {DEFAULT_MAX_PIXELS} = 4096 x 4096)")
    app.add_argument("--max_video_s", type=float, default=DEFAULT_MAX_VIDEO_S,
                     help=f"longest video in seconds (default {DEFAULT_MAX_VIDEO_S:g})")
    return parser


def parse_app_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The app's flags, checked: a clear error for a per-job flag, a wrong value or a missing snapshot."""
    parser = build_app_parser()
    args = parser.parse_args(None if argv is None else list(argv))
    given = [name for name in PAGE_FLAGS if getattr(args, name) != parser.get_default(name)]
    if given:
        raise DemoError(f"--{given[0]} is chosen in the page for each upload; start the app without it")
    check_args(copy.copy(args), "video")  # a copy: the check parses --focal in place, each job parses it again
    if not 0 <= args.port <= 65535:
        raise DemoError(f"--port {args.port}: must be 0 to 65535")
    for flag, value in (("--concurrency", args.concurrency), ("--max_upload_mb", args.max_upload_mb),
                        ("--max_pixels", args.max_pixels), ("--max_video_s", args.max_video_s)):
        if not value > 0:
            raise DemoError(f"{flag} {value}: must be positive")
    return args


def check_port_free(host: str, port: int) -> None:
    """A clear error when ``host``:``port`` cannot be served on (another server holds it), before anything loads."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            why = "is in use by another program" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc})"
            raise DemoError(f"port {port} on {host} {why}: stop that program or pass another --port") from exc


class WebApp:
    """The loaded models, the limits and the temporary folder of one running app; :meth:`run` runs a job."""

    def __init__(self, models: Models, limits: Limits, concurrency: int, workdir: Path) -> None:
        self.models, self.limits, self.concurrency, self.workdir = models, limits, concurrency, workdir
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def run(self, request: JobRequest, progress: Callable[[int, int | None], None] | None = None) -> JobResult:
        """Run ``request`` in a fresh job folder; all but the newest ``concurrency + KEPT_JOBS`` job folders are
        removed first."""
        jobs = self.workdir / "jobs"
        with self._lock:
            number = next(self._numbers)
            folders = sorted(jobs.iterdir() if jobs.is_dir() else [], key=lambda p: p.stat().st_mtime)
            for old in folders[:max(0, len(folders) - self.concurrency - KEPT_JOBS)]:  # the running ones are newer
                shutil.rmtree(old, ignore_errors=True)
        result = run_job(self.models, request, jobs / f"job_{number}", self.limits, progress)
        print(f"job {number} ({Path(request.media).name}): {result.summary()}; time (s): {result.stage_seconds}",
              flush=True)
        return result

    def public_message(self, message: str) -> str:
        """``message`` with every path inside the temporary folder shortened to its file name."""
        return re.sub(re.escape(str(self.workdir)) + r"/(?:[^\s'\"]*/)?", "", message)

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class Server:
    """A running app: ``url`` (http://host:port/), ``app``, ``blocks`` (the Gradio page); :meth:`close` stops it
    and removes its temporary folder."""

    url: str
    app: WebApp
    blocks: Any
    _environ: dict[str, str | None]

    def close(self) -> None:
        try:
            if self.blocks is not None:
                self.blocks.close()
        finally:
            self.app.close()
            for key, value in self._environ.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def make_workdir(parent: Path | None = None) -> Path:
    """A new private folder ``i2l_webapp.<pid>.<random>`` in ``parent`` (the system's temporary folder); the folders
    so named whose process is gone (an app that was killed) are removed first, uploads included."""
    parent = Path(parent or tempfile.gettempdir())
    for old in parent.glob(f"{WORKDIR_PREFIX}.*.*"):
        pid = old.name.split(".")[1]
        if pid.isdigit() and old.is_dir() and not old.is_symlink() and not pid_alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}.{os.getpid()}.", dir=parent))


@contextmanager
def _stop_on_sigterm(enabled: bool) -> Iterator[None]:
    """While serving in the foreground, SIGTERM (a service manager's stop) stops the app as Ctrl+C does, so that
    its temporary folder is removed."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve(args: argparse.Namespace, prevent_thread_lock: bool = False) -> Server:
    """Load the models of ``args`` (from :func:`parse_app_args`) and serve the page.  With ``prevent_thread_lock``
    the call returns the running :class:`Server` (tests, tools); otherwise it serves until interrupted, then stops
    the app and returns."""
    check_port_free(args.host, args.port)
    models = Models(args)
    workdir = make_workdir()
    environ = {key: os.environ.get(key) for key in ("GRADIO_TEMP_DIR", "GRADIO_ANALYTICS_ENABLED")}
    # Gradio reads its cache folder from the environment when the page is built: uploads land in ours
    os.environ["GRADIO_TEMP_DIR"] = str(workdir / "gradio")
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    app = WebApp(models, Limits(args.max_upload_mb, args.max_pixels, args.max_video_s), args.concurrency, workdir)
    server = Server(url="", app=app, blocks=None, _environ=environ)
    try:
        from main.predictor.webapp_page import build_blocks, launch  # noqa: PLC0415 - gradio after the environment

        server.blocks = build_blocks(app, CACHE_CLEANUP)
        with _stop_on_sigterm(not prevent_thread_lock):
            server.url = launch(server.blocks, args, MAX_QUEUE, prevent_thread_lock)
    except BaseException:
        server.close()
        raise
    if not prevent_thread_lock:
        server.close()
    return server


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry (``demo/app.py``): a bad flag, snapshot or busy port prints one error line (status 1)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    return run_reporting_user_errors(lambda: serve(parse_app_args(argv)), debug=wants_debug(argv))
