"""Write the GraphQL schema (SDL) to app/graphql/schema.graphql, or check that the file is current.

    python -m app.graphql.export_schema            # rewrite the file after changing a GraphQL type
    python -m app.graphql.export_schema --check    # exit 1 if the file differs from the code

The committed file is the contract clients read and review; tests/graphql/test_sdl.py fails when it and the
code disagree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.core.config import Settings
from app.graphql.schema import build_schema

SDL_PATH = Path(__file__).with_name("schema.graphql")
REGENERATE = "python -m app.graphql.export_schema"


def current_sdl() -> str:
    """The SDL of the schema the app serves (settings change limits, never types)."""
    return str(build_schema(Settings())) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the file is stale")
    parser.add_argument("--output", type=Path, default=SDL_PATH, help=f"default: {SDL_PATH}")
    args = parser.parse_args(argv)
    sdl = current_sdl()
    if args.check:
        if not args.output.exists() or args.output.read_text(encoding="utf-8") != sdl:
            print(f"{args.output} is out of date: run `{REGENERATE}`.", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date.")
        return 0
    args.output.write_text(sdl, encoding="utf-8")
    print(f"wrote {args.output} ({sdl.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
