"""TFLite flatbuffer -> typed IR (:mod:`tinym2net.ir`), with one-line errors for models tinym2net cannot "
"run."""

from .tflite_reader import load_tflite, parse_tflite

__all__ = ["load_tflite", "parse_tflite"]
