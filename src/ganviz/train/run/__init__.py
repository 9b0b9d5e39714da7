"""The run folder: its file names (``folder.py``), what a new run, ``--resume`` and ``--overwrite`` may do (``rules.py``), the lock, checkpoints."""
