"""Running the whole pipeline once through Dagster: the `sync` and `demo` commands' work."""
