"""common/utils/vis.py: colours, vertex drawings, OBJ files, atomic writes, the two renderers and the GL platform."""
import ctypes
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from common.utils import vis
from common.utils.vis import (
    MeshRenderer,
    draw_mesh_vertices,
    encode_jpg,
    mask_iou,
    mesh_obj_bytes,
    rainbow_colors,
    side_view,
)

ROOT = Path(__file__).resolve().parents[3]
FOCAL, PRINCPT, SHAPE = (1500.0, 1500.0), (160.0, 120.0), (240, 320)


def _posed_body(smpl, depth: float = 8.0, x: float = 0.0) -> np.ndarray:
    """A synthetic SMPL body upright in camera space (y down), root at (x, 0, depth) metres: (6890, 3)."""
    pose = torch.zeros(1, 72)
    pose[0, :3] = torch.tensor([np.pi, 0.0, 0.0])  # SMPL y-up -> camera y-down
    pose[0, 16 * 3 + 2], pose[0, 17 * 3 + 2] = -1.0, 1.0  # arms lowered
    pose[0, 4 * 3] = 0.6  # a bent knee
    with torch.no_grad():
        verts, joints = smpl.forward(pose, torch.zeros(1, 10))
    return verts[0].double().numpy() - joints[0, 0].double().numpy() + np.array([x, 0.0, depth])


# The library PyOpenGL's headless platforms load, looked for as PyOpenGL does: lib<name>.so, then lib<name>.so.9 ...
# lib<name>.so.0.
GL_LIBRARIES = {"osmesa": "OSMesa", "egl": "EGL"}


def missing_opengl() -> str | None:
    """Why this process has no OpenGL (the library of the platform vis.choose_gl_platform picks cannot be loaded),
    or None.  Only that skips the pyrender tests: any other rendering error is a failure, not a missing OpenGL."""
    platform = vis.choose_gl_platform()  # as the renderer does, before PyOpenGL is imported
    name = GL_LIBRARIES.get(platform)
    if name is None:  # a platform chosen by the user or by an earlier OpenGL import: it must work
        return None
    errors = []
    for filename in [f"lib{name}.so"] + [f"lib{name}.so.{i}" for i in range(9, -1, -1)]:
        try:
            ctypes.CDLL(filename, mode=ctypes.RTLD_GLOBAL)
            return None
        except OSError as exc:
            errors.append(str(exc))
    return f"PYOPENGL_PLATFORM={platform}, but lib{name} cannot be loaded ({errors[0]})"


@pytest.fixture(scope="module")
def pyrender_renderer():
    reason = missing_opengl()
    if reason is not None:
        pytest.skip(f"no OpenGL here: {reason}")
    renderer = MeshRenderer("pyrender")
    yield renderer
    renderer.close()


def test_rainbow_colors_match_the_colormap_formula():
    colors = rainbow_colors(3)  # t = 0, 0.5, 1
    assert colors.dtype == np.uint8
    np.testing.assert_array_equal(colors[0], [128, 0, 255])   # (|-0.5|, sin 0, cos 0)
    np.testing.assert_array_equal(colors[1], [128, 255, 180])  # (0.5, 1, cos(pi/4))
    np.testing.assert_array_equal(colors[2], [255, 0, 0])     # (1.5 -> 1, 0, 0)


def test_draw_mesh_vertices_blends_circles_and_leaves_the_rest():
    img = np.full((40, 50, 3), 100, np.uint8)
    out = draw_mesh_vertices(img, [np.array([[10.7, 20.2], [30.0, 5.9], [np.nan, 3.0]])])
    first = rainbow_colors(3)[0].astype(int)
    np.testing.assert_allclose(out[20, 10], (100 + first) / 2, atol=1)  # truncated to (10, 20), 50/50 blend
    np.testing.assert_array_equal(out[35:, 40:], img[35:, 40:])
    changed = np.argwhere(np.any(out != img, axis=2))
    assert changed[:, 0].max() <= 22 and changed[:, 1].max() <= 32  # only around the two finite vertices


def test_encode_jpg_writes_opencv_bgr_so_colours_survive():
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 220  # RGB red
    decoded = cv2.imdecode(np.frombuffer(encode_jpg(red), np.uint8), cv2.IMREAD_COLOR)  # BGR
    assert decoded[..., 2].mean() > 200 and decoded[..., 0].mean() < 20


@pytest.mark.parametrize("which", ["smpl", "mano"])
def test_obj_keeps_vertex_order_and_faces(which, request, tmp_path):
    import trimesh

    model = request.getfixturevalue(which)
    verts = np.asarray(model.model_data()["v_template"] if which == "mano"
                       else model.model_data("neutral")["v_template"], dtype=np.float64) + [0.1, -0.2, 7.0]
    text = mesh_obj_bytes(verts, model.face).decode()
    lines = text.splitlines()
    assert sum(ln.startswith("v ") for ln in lines) == model.vertex_num
    assert sum(ln.startswith("f ") for ln in lines) == len(model.face) == (13776 if which == "smpl" else 1538)
    path = tmp_path / "m.obj"
    path.write_text(text)
    back = trimesh.load(path, process=False, maintain_order=True)
    np.testing.assert_allclose(back.vertices, verts, atol=1e-7)
    np.testing.assert_array_equal(back.faces, model.face)


def test_side_view_turns_about_the_common_centre(smpl):
    a, b = _posed_body(smpl, 8.0, -0.5), _posed_body(smpl, 9.0, 0.5)
    turned = side_view([(a, smpl.face), (b, smpl.face)], 90.0)
    both, both_turned = np.concatenate([a, b]), np.concatenate([t[0] for t in turned])
    np.testing.assert_allclose(both_turned.mean(0), both.mean(0), atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(both_turned - both.mean(0), axis=1),
                               np.linalg.norm(both - both.mean(0), axis=1), atol=1e-9)
    np.testing.assert_allclose(both_turned[:, 1], both[:, 1])  # vertical axis
    np.testing.assert_allclose(both_turned[:, 2] - both.mean(0)[2], -(both[:, 0] - both.mean(0)[0]), atol=1e-9)


def test_pyrender_and_numpy_rasteriser_agree_on_the_mask(smpl, pyrender_renderer):
    verts = _posed_body(smpl, 9.0)
    background = np.full((*SHAPE, 3), 90, np.uint8)
    gl = pyrender_renderer.render([(verts, smpl.face)], FOCAL, PRINCPT, background)
    sw = MeshRenderer("numpy").render([(verts, smpl.face)], FOCAL, PRINCPT, background)
    assert gl.renderer.startswith("pyrender") and sw.renderer == "numpy"
    assert gl.mask.sum() > 2000
    assert mask_iou(gl.mask, sw.mask) >= 0.95
    both = gl.mask & sw.mask
    assert np.median(np.abs(gl.depth[both] - sw.depth[both])) < 0.01  # metres
    assert np.array_equal(gl.image[~gl.mask], background[~gl.mask])
    assert gl.image[gl.mask].mean() > 150  # the light mesh colour replaced the background


@pytest.mark.parametrize("backend", ["pyrender", "numpy"])
def test_several_people_occlude_each_other(smpl, backend, request):
    renderer = request.getfixturevalue("pyrender_renderer") if backend == "pyrender" else MeshRenderer("numpy")
    near, far = _posed_body(smpl, 8.0, -0.15), _posed_body(smpl, 9.5, 0.15)
    background = np.zeros((*SHAPE, 3), np.uint8)
    d_near = renderer.render([(near, smpl.face)], FOCAL, PRINCPT, background).depth
    d_far = renderer.render([(far, smpl.face)], FOCAL, PRINCPT, background).depth
    d_both = renderer.render([(far, smpl.face), (near, smpl.face)], FOCAL, PRINCPT, background).depth
    overlap = np.isfinite(d_near) & np.isfinite(d_far)
    assert overlap.sum() > 500
    np.testing.assert_allclose(d_both[overlap], d_near[overlap], atol=1e-3)  # the nearer person is in front
    union = np.isfinite(d_near) | np.isfinite(d_far)
    assert mask_iou(np.isfinite(d_both), union) > 0.99


def test_choose_gl_platform(monkeypatch):
    monkeypatch.delitem(sys.modules, "OpenGL", raising=False)
    for present, expected in ((True, "egl"), (False, "osmesa")):
        monkeypatch.delenv("PYOPENGL_PLATFORM", raising=False)
        monkeypatch.setattr(vis, "_gpu_driver_present", lambda present=present: present)
        assert vis.choose_gl_platform() == expected == os.environ["PYOPENGL_PLATFORM"]
    monkeypatch.setenv("PYOPENGL_PLATFORM", "egl")
    monkeypatch.setattr(vis, "_gpu_driver_present", lambda: False)
    assert vis.choose_gl_platform() == "egl"  # the user's choice stands


def test_auto_renderer_falls_back_to_numpy_without_opengl():
    code = ("import numpy as np\n"
            "from common.utils.vis import MeshRenderer\n"
            "r = MeshRenderer('auto')\n"
            "v = np.array([[0, 0, 5.0], [1, 0, 5], [0, 1, 5]]); f = np.array([[0, 2, 1]])\n"
            "res = r.render([(v, f)], (100, 100), (32, 32), np.zeros((64, 64, 3), np.uint8))\n"
            "print('renderer', r.name, res.renderer, int(res.mask.sum()))\n")
    env = dict(os.environ, PYOPENGL_PLATFORM="no_such_platform")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "rendering with the NumPy rasteriser" in proc.stdout
    name, result, covered = proc.stdout.strip().splitlines()[-1].split()[1:]
    assert name == result == "numpy" and int(covered) > 100
