"""Keras models: the float teacher (teacher.py) and the TinyM2Net students (student.py)."""

DEFAULT_WEIGHT_BUDGET = 6 * 1024  # student bytes of int8 weights + int32 biases (TinyM2Net-V3's 6 KB model)
