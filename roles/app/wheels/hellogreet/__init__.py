"""hellogreet: the tiny package the example app installs into its venv (from a local wheel)."""
__version__ = "@VERSION@"
GREETING = "@GREETING@"
