"""``ganviz.train.distributed`` (the README's path): re-exports :mod:`ganviz.train.gan.distributed`."""

from .gan.distributed import cluster_workers, fit_distributed, is_chief, is_multi_worker, multi_worker_strategy

__all__ = ["cluster_workers", "fit_distributed", "is_chief", "is_multi_worker", "multi_worker_strategy"]
