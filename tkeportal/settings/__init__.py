"""Settings package: ``base`` holds everything shared; ``dev``, ``test`` and ``prod`` adjust it.

All values come from the environment (django-environ); see ``.env.example`` and the README.
"""
