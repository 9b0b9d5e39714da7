"""Extractors: read a source (live model, model file, traced step) into the IR."""
