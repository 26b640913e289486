"""`centre` subcommands. Each module has `register(subparsers)`, which sets `run(args) -> exit code`;
centre.cli lists the modules."""
