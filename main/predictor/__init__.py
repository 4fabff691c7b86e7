"""The demo pipeline: people (boxes, camera, root depth), the network, output mapping and files.

``demo/demo.py`` calls :func:`main.predictor.run.main`; every step is a function of its own, tested and reusable.
"""
