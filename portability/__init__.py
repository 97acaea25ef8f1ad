"""Measure how portable PyTorch, JAX and TensorFlow functions are across CPU, GPU and TPU."""

__version__ = "0.1.0"
