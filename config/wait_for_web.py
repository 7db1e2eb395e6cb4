"""Wait until the web server answers (any HTTP status), so `make run` prints its URL last, once
it works. Exits 1 after about 30 seconds without an answer."""

import sys
import time
import urllib.error
import urllib.request


def main(url: str, seconds: float = 30.0) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 - our own local URL
            return 0
        except urllib.error.HTTPError:
            return 0  # it answered: /health says 503 while the broker is still starting
        except OSError:
            time.sleep(0.2)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
