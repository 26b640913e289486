"""A secret a command needs (a dashboard password, a staff PIN): from the first line of standard input
when its `--…-stdin` flag is given, else asked twice on the terminal, its rule said before it is
asked. Without a terminal (cron, CI, a pipe) getpass would read standard input and end in an
EOFError traceback: the command says instead how to give it on standard input."""
from __future__ import annotations

import getpass
import sys
from dataclasses import dataclass
from typing import Callable

from centre.commands.common import CommandError


@dataclass(frozen=True)
class Secret:
    what: str                               # "password", "PIN"
    rule: str                               # said before asking, and in the refusals
    flag: str                               # the option that reads it from standard input
    example: str                            # that option in a whole command line
    problem: Callable[[str], str | None]    # why a typed one may not be used (None: it may)
    nothing_done: str                       # "nothing was added"


def read_secret(secret: Secret, *, from_stdin: bool, intro: str) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CommandError(f"there is no terminal to ask for the {secret.what} on; give it on standard input "
                           f"with {secret.flag}, e.g. {secret.example} ({secret.rule})")
    print(f"{intro}: {secret.rule}", file=sys.stderr)
    try:
        first = getpass.getpass(f"{secret.what}: ")
        problem = secret.problem(first)
        if problem is not None:
            raise CommandError(problem)
        if getpass.getpass("again: ") != first:
            raise CommandError(f"the {secret.what}s differ; {secret.nothing_done}")
    except (EOFError, KeyboardInterrupt):
        raise CommandError(f"no {secret.what} given; {secret.nothing_done}") from None
    return first
