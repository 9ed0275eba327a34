"""The entry points: the Hydra app (``python -m getdata``, the ``getdata`` script), the Python
API (``getdata.fetch``), the MLproject step, the Hydra callbacks and each job's report."""
