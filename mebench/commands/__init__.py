"""One module per `mebench` subcommand; each defines ``register(subparsers)`` and sets ``run`` on its parser."""
