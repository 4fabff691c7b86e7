"""Fixed facts the synthetic SMPL / MANO files share with the official ones.

File names, vertex / face counts, joint names and kinematic trees (parent of each joint, -1 for the root), the
mesh vertices used as keypoints, and the joint orders of the two external body regressors (Human3.6M, COCO).
See docs/body_models.md for how these are used.
"""
from __future__ import annotations

import numpy as np

SMPL_FILENAMES = {
    "neutral": "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl",
    "male": "basicModel_m_lbs_10_207_0_v1.0.0.pkl",
    "female": "basicModel_f_lbs_10_207_0_v1.0.0.pkl",
}
MANO_FILENAME = "MANO_RIGHT.pkl"
H36M_REGRESSOR_FILENAME = "J_regressor_h36m_correct.npy"
COCO_REGRESSOR_FILENAME = "J_regressor_coco_hip_smpl.npy"

SMPL_NUM_VERTS = 6890
SMPL_NUM_FACES = 13776
MANO_NUM_VERTS = 778
MANO_NUM_FACES = 1538
MANO_WRIST_LOOP = 16  # vertices on the open wrist boundary of the hand

SMPL_JOINT_NAMES = (
    "pelvis", "L_hip", "R_hip", "spine1", "L_knee", "R_knee", "spine2", "L_ankle", "R_ankle",
    "spine3", "L_foot", "R_foot", "neck", "L_collar", "R_collar", "head", "L_shoulder",
    "R_shoulder", "L_elbow", "R_elbow", "L_wrist", "R_wrist", "L_hand", "R_hand",
)
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
MANO_JOINT_NAMES = (
    "wrist", "index1", "index2", "index3", "middle1", "middle2", "middle3", "little1", "little2",
    "little3", "ring1", "ring2", "ring3", "thumb1", "thumb2", "thumb3",
)
MANO_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)
SMPL_FACE_KEYPOINT_VERTICES = {"nose": 331, "left_eye": 2802, "right_eye": 6262, "left_ear": 3489,
                               "right_ear": 3990}
MANO_FINGERTIP_VERTICES = {"thumb": 745, "index": 317, "middle": 444, "middle_alt": 445, "ring": 556,
                           "little": 673}
H36M_JOINT_NAMES = (
    "Pelvis", "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Torso", "Neck", "Nose",
    "Head_top", "L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder", "R_Elbow", "R_Wrist",
)
COCO_JOINT_NAMES = (
    "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
    "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
)
ROOT_PARENT = np.int64(4294967295)  # how the official files store the root's parent (uint32 -1)
GENDERS = ("neutral", "male", "female")
