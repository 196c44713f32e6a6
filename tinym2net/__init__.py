"""tinym2net: multimodal TinyML students -> int8/int4 C -> PlatformIO firmware, verified in an emulator."""

__version__ = "0.1.0"
