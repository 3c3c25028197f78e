"""Entry point of ``make bench`` (``python -m benchmarks``)."""

import sys


def main() -> int:
    """Run every benchmark; there are none yet."""
    print("No benchmarks yet.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
