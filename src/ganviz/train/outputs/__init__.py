"""Where a run's pictures and pages go, one destination a module: grids and GIF, curves, TensorBoard, notebook, report, system diagram."""
