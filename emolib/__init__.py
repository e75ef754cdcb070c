"""emolib: the small, tested package behind the Emojimation course."""
__version__ = "0.1.0"
