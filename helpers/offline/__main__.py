"""`python -m helpers.offline`: serve the offline Claude in the foreground, for curl, other languages' SDKs and
your own test suites. It binds to 127.0.0.1 unless `--host` says otherwise."""

from __future__ import annotations

import argparse

from .server import serve_forever
from .state import Options


def main(argv: list[str] | None = None) -> None:
    defaults = Options()
    parser = argparse.ArgumentParser(prog="python -m helpers.offline", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (default: 8765)")
    parser.add_argument("--first-token-ms", type=float, default=defaults.first_token_ms,
                        help=f"simulated time to first token (default: {defaults.first_token_ms})")
    parser.add_argument("--per-token-ms", type=float, default=defaults.per_token_ms,
                        help=f"simulated time per output token (default: {defaults.per_token_ms})")
    parser.add_argument("--requests-per-minute", type=int, default=None, help="enforce a rate limit (429s)")
    parser.add_argument("--context-window", type=int, default=None, help="override every model's context window")
    parser.add_argument("--require-tools-for-tool-blocks", action="store_true",
                        help="refuse tool_use/tool_result blocks sent without `tools` (the API did in 2024)")
    parser.add_argument("--beta", action="append", default=[], metavar="NAME",
                        help="accept this anthropic-beta name on top of the known ones (repeat for several)")
    parser.add_argument("--batch-processing-s", type=float, default=defaults.batch_processing_s,
                        help="seconds a one-request Message Batch takes to end; more per 1,000 requests "
                             f"(default: {defaults.batch_processing_s})")
    args = parser.parse_args(argv)
    def announce() -> None:
        print(f"Offline Claude on http://{args.host}:{args.port}  (set ANTHROPIC_BASE_URL to this; Ctrl+C stops it)",
              flush=True)

    serve_forever(args.host, args.port, on_started=announce,
                  first_token_ms=args.first_token_ms, per_token_ms=args.per_token_ms,
                  requests_per_minute=args.requests_per_minute, context_window=args.context_window,
                  tools_required_for_tool_blocks=args.require_tools_for_tool_blocks, extra_betas=tuple(args.beta),
                  batch_processing_s=args.batch_processing_s)


if __name__ == "__main__":
    main()
