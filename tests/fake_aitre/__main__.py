"""Run alone (for ``make bench`` or ``make demo``): ``python -m tests.fake_aitre --port 8765``."""

import argparse
from pathlib import Path

from .server import FakeAitre


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake AITRE server on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--tokens", type=int, default=0, help="reply length in tokens (default: a short sample)")
    parser.add_argument("--rate", type=float, default=0, help="tokens per second (0: as fast as possible)")
    parser.add_argument("--slow-rate", type=float, default=0, help="tokens per second of the model fake-slow")
    parser.add_argument("--first-token-delay", type=float, default=0.0, help="seconds before the first token")
    parser.add_argument("--gevent", action="store_true", help="serve each connection in a greenlet (for load)")
    parser.add_argument("--tls", type=Path, help="serve HTTPS; the certificate to trust is written to TLS/ca.pem")
    args = parser.parse_args()
    server = FakeAitre(args.port, tls_dir=args.tls)
    if args.tokens:
        server.state.reply = " ".join(f"word{i}" for i in range(args.tokens))
    server.state.token_delay = 1 / args.rate if args.rate else 0.0
    server.state.first_token_delay = args.first_token_delay
    server.state.slow_token_delay = 1 / args.slow_rate if args.slow_rate else server.state.token_delay
    print(f"fake AITRE listening on {server.base_url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
