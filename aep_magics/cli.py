"""``aep-magics``: the kit's command line. ``aep-magics doctor`` checks a setup, read-only (see
:mod:`aep_magics.doctor`); AEP Local has its own, ``aep-local``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

COMMANDS = {"doctor": "check, read-only, that your credentials reach everything the tutorials need"}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help") or args[0] not in COMMANDS:
        listing = "\n".join(f"  {name:<8} {text}" for name, text in COMMANDS.items())
        print(f"usage: aep-magics COMMAND [options]\n\ncommands:\n{listing}")
        if args and args[0] not in ("-h", "--help"):
            print(f"aep-magics: unknown command {args[0]!r}", file=sys.stderr)
            return 2
        return 0 if args else 2
    from .doctor import main as doctor

    return doctor(args[1:])


if __name__ == "__main__":
    sys.exit(main())
