"""Training wing: GAN model, data, monitors, metrics and reports (imports TensorFlow)."""
