"""Parts of the synthetic SMPL / MANO model-file generator; :mod:`tools.synthetic.body_models` assembles them.

* :mod:`.skeleton`: joint names, kinematic trees, vertex / face counts, keypoint vertex ids, file names;
* :mod:`.curves`, :mod:`.mesh_ops`, :mod:`.mesh_builder`: profile curves, mesh operations, the tube builder;
* :mod:`.rigging`: skinning weights, joint regressors, pose blend shapes, the shared model dict;
* :mod:`.body_mesh`, :mod:`.body_model`: the SMPL-topology body (mesh, then weights / regressors / shapes);
* :mod:`.hand_mesh`, :mod:`.hand_model`: the MANO-topology right hand (likewise);
* :mod:`.pickle_writer`: protocol-2 pickles that look like the official (Python 2, chumpy) files.
"""
