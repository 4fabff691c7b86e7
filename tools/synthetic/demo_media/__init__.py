"""The project's own synthetic demo media: a 16-frame video of two SMPL people crossing, its COCO detections and
keypoints, and an image folder (demo/input_video.mp4, demo/input_video_bbox.json, demo/input_video_keypoints.json,
demo/input_folder/, demo/input_folder_bbox.json).

    python -m tools.synthetic.demo_media --out_dir demo      # synthetic model files generated on the fly (seed 0)

:func:`make_demo_video` renders the frames and returns them with their ground truth (boxes, keypoints, the people's
identities) for the tests; :func:`write_demo_media` writes the files.  No photograph or third-party asset is involved.
"""
from tools.synthetic.demo_media.files import FOLDER_FRAMES, detection_results, keypoint_results, write_demo_media
from tools.synthetic.demo_media.scene import COCO_FROM_SMPL, DemoVideo, box_iou, make_demo_video

__all__ = ["COCO_FROM_SMPL", "FOLDER_FRAMES", "DemoVideo", "box_iou", "detection_results", "keypoint_results",
           "make_demo_video", "write_demo_media"]
