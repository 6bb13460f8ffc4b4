"""The toolkit's version, written into every run's resolved_config.json."""

__version__ = "0.10.0"
