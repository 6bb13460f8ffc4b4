"""The `[model]` keys of each model family, one module per family (`KEYS`)."""
