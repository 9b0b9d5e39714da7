"""``ganviz train``: its recipe written once (``options.py``), the seed-model run (``command.py``) and the user's own compiled GAN (``user_model.py``)."""
