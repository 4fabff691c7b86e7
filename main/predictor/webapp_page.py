"""The browser demo's page (docs/webapp.md): inputs and options on the left, the overlay, the 3D view, the side view
and the downloads on the right; one handler, ``/run``, that runs a job of :class:`main.predictor.webapp.WebApp`.

Imported after :func:`main.predictor.webapp.serve` has pointed Gradio's cache at the app's temporary folder.
"""
from __future__ import annotations

import argparse
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr

from common.errors import UserError
from main.predictor.errors import DemoError
from main.predictor.people import DEMO_DIR
from main.predictor.webapp_jobs import CAMERAS, DETECTOR_FLOOR, JobRequest

if TYPE_CHECKING:
    from main.predictor.webapp import WebApp

IMAGE_TYPES = [".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"]
VIDEO_TYPES = [".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi"]
CAMERA_LABELS = {"default": "start-up camera", "focal": "focal length (px)", "fov": "field of view (deg)",
                 "exif": "from the photo's EXIF"}
MAX_STRIDE = 10
DETECTIONS_HELP = ("Detections: the demo's `--bbox_json` file, COCO results with `image_id` (a video's frame index; "
                   "ignored for an image), `bbox` (x, y, w, h pixels), `score`, `category_id`. Without it the person "
                   "detector runs (its weights come from the torch hub cache).")
FRONT_VIEW = (90, 90, None)  # degrees about the vertical, from the vertical, distance: the camera's own viewpoint


def _examples(main_kind: str) -> list[list[str | None]]:
    """The bundled media with the files that carry their people: [media, detections, keypoints]."""
    if main_kind == "hand":
        return [[str(DEMO_DIR / "input_video.mp4"), None, str(DEMO_DIR / "input_video_keypoints.json")]]
    return [[str(DEMO_DIR / "input.jpg"), str(DEMO_DIR / "input_bbox.json"), None],
            [str(DEMO_DIR / "input_video.mp4"), str(DEMO_DIR / "input_video_bbox.json"), None]]


def _model_line(app: WebApp) -> str:
    models, args = app.models, app.models.args
    kinds = " + ".join(f"{k} ({'SMPL' if k == 'body' else 'MANO'})" for k in models.predictors)
    return (f"**Model**: {kinds}, stage `{args.stage}`, on `{models.device}`. Limits: {app.limits.max_upload_mb:g} "
            f"MB a file, {app.limits.max_pixels} pixels a frame, {app.limits.max_video_s:g} s of video.")


def build_blocks(app: WebApp, delete_cache: tuple[int, int]) -> gr.Blocks:
    """The page of ``app``: every event goes through the queue (one job at a time unless ``--concurrency``)."""
    args = app.models.args
    with gr.Blocks(title="I2L-MeshNet demo", analytics_enabled=False, delete_cache=delete_cache) as blocks:
        gr.Markdown("# I2L-MeshNet: meshes from an image or a video\n" + _model_line(app))
        with gr.Row():
            with gr.Column(scale=1):
                media = gr.File(label="Image or video", file_types=IMAGE_TYPES + VIDEO_TYPES, elem_id="media")
                detections = gr.File(label="Detections JSON (optional)", file_types=[".json"], elem_id="detections")
                gr.Markdown(DETECTIONS_HELP)
                with gr.Accordion("Options", open=False):
                    det_thresh = gr.Slider(DETECTOR_FLOOR, 1.0, value=max(DETECTOR_FLOOR, args.det_thresh),
                                           step=0.01, label="Detection score threshold")
                    camera = gr.Radio([(CAMERA_LABELS[c], c) for c in CAMERAS], value="default", label="Camera")
                    camera_value = gr.Number(value=None, label="Focal length (pixels) or field of view (degrees)")
                    smooth = gr.Checkbox(value=args.smooth, label="Smooth each track (videos: One-Euro filter)")
                    stride = gr.Slider(1, MAX_STRIDE, value=min(args.stride, MAX_STRIDE), step=1,
                                       label="Process every N-th video frame")
                    side_view = gr.Checkbox(value=args.side_view, label="Side view in the overlay video")
                    save_mesh = gr.Checkbox(value=args.save_mesh,
                                            label=f"Every mesh as a file (meshes.zip, {args.mesh_format})")
                    view_frame = gr.Number(value=None, precision=0,
                                           label="Video frame shown in 3D (empty: the first with people)")
                    keypoints = gr.File(label="Keypoints JSON (hands, optional)", file_types=[".json"],
                                        elem_id="keypoints")
                run = gr.Button("Run", variant="primary", elem_id="run")
                gr.Examples(_examples(app.models.main_kind), inputs=[media, detections, keypoints],
                            label="Examples (with their detections)")
            with gr.Column(scale=2):
                status = gr.Textbox(label="Status", interactive=False, elem_id="status")
                overlay_image = gr.Image(label="Overlay", type="filepath", interactive=False, elem_id="overlay-image")
                overlay_video = gr.Video(label="Overlay video", interactive=False, visible=False,
                                         elem_id="overlay-video")
                with gr.Row():
                    scene = gr.Model3D(label="3D view (drag to turn)", elem_id="scene", height=400,
                                       camera_position=FRONT_VIEW)
                    side = gr.Image(label="Side view", type="filepath", interactive=False, elem_id="side-view")
                downloads = gr.File(label="Downloads", file_count="multiple", interactive=False, elem_id="downloads")

        def handle(media_file, detections_file, det_value, camera_choice, camera_number, smooth_on, stride_value,
                   side_on, mesh_on, frame_value, keypoints_file, progress=gr.Progress()):
            request = JobRequest(media=_path(media_file, "an image or a video"), bbox_json=_optional(detections_file),
                                 keypoints_json=_optional(keypoints_file), det_thresh=det_value,
                                 camera=camera_choice, camera_value=camera_number, smooth=smooth_on,
                                 stride=int(stride_value), side_view=side_on, save_mesh=mesh_on,
                                 view_frame=None if frame_value is None else int(frame_value))

            def report(done: int, total: int | None) -> None:
                progress((done, total), desc="frames", unit="frames")

            try:
                result = app.run(request, report)
            except UserError as exc:
                raise gr.Error(app.public_message(str(exc)), print_exception=False) from None
            except Exception as exc:  # a bug: the page gets one line, the server's console the traceback
                traceback.print_exc()
                raise gr.Error(f"the run failed ({type(exc).__name__}); the server's console has the details",
                               print_exception=False) from None
            is_image = result.kind == "image"
            return (result.summary(),
                    gr.Image(value=str(result.overlay) if is_image else None, visible=is_image),
                    gr.Video(value=None if is_image else str(result.overlay), visible=not is_image),
                    None if result.scene is None else str(result.scene),
                    None if result.side is None else str(result.side),
                    [str(p) for p in result.downloads])

        run.click(handle, inputs=[media, detections, det_thresh, camera, camera_value, smooth, stride, side_view,
                                  save_mesh, view_frame, keypoints],
                  outputs=[status, overlay_image, overlay_video, scene, side, downloads], api_name="run")
    return blocks


def _path(value: str | None, what: str) -> Path:
    if not value:
        raise gr.Error(f"upload {what} first (or pick an example)", print_exception=False)
    return Path(value)


def _optional(value: str | None) -> Path | None:
    return Path(value) if value else None


def launch(blocks: gr.Blocks, args: argparse.Namespace, max_queue: int, prevent_thread_lock: bool) -> str:
    """Serve ``blocks`` on ``--host``/``--port`` (share link only with ``--share``); returns the local URL."""
    blocks.queue(default_concurrency_limit=args.concurrency, max_size=max_queue)
    try:
        _, url, share_url = blocks.launch(server_name=args.host, server_port=args.port, share=args.share,
                                          prevent_thread_lock=True, show_error=False, quiet=True,
                                          max_file_size=int(args.max_upload_mb * 1e6), ssr_mode=False,
                                          mcp_server=False, pwa=False, enable_monitoring=False)
    except OSError as exc:
        raise DemoError(f"cannot serve on {args.host}:{args.port} ({exc}): pass another --port") from exc
    print(f"Serving the demo on {url}" + (f" and {share_url}" if share_url else "")
          + ("" if prevent_thread_lock else " (Ctrl+C stops it)"), flush=True)
    if not prevent_thread_lock:
        blocks.block_thread()
    return url
