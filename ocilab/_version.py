"""The version of the ocilab package."""

__version__ = "0.1.0"
