"""Parts of the synthetic mini-dataset generator; :mod:`tools.synthetic.datasets` assembles them.

* :mod:`.common`: rounding, JSON / JPEG writers, projection and boxes, intrinsics sampling, shared JSON records;
* :mod:`.scene`: body / hand pose and shape sampling, placing a body fully inside the image;
* :mod:`.generator`: the shared state (models, regressors, forward passes, colours, rendering, label maps);
* one writer per dataset: :mod:`.human36m`, :mod:`.muco`, :mod:`.mscoco`, :mod:`.pw3d`, :mod:`.freihand`.
"""
