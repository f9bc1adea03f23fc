"""Reports -> strings. Renderers never print: the CLI does."""
