"""Training wing: ``ganviz.GAN`` on every Keras backend, the ``Monitor``, datasets, run folders and ``ganviz train``.

Folders by concept: ``gan/`` (the GAN of each backend over one base, fused XLA steps, ``tf.distribute``),
``monitor/`` (the callback and what it is made of), ``outputs/`` (one destination a module: grids,
curves, TensorBoard, notebook, report, system diagram), ``run/`` (the run folder, its rules, lock
and checkpoints), ``data/`` (datasets and batches), ``recipe/`` (``ganviz train``). Importing this
package imports nothing heavy; the TensorFlow GAN imports TensorFlow, the others never do.
"""
