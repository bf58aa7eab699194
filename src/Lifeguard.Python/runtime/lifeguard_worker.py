"""Entry point of a Lifeguard Python worker process. Started by the host as: python3 lifeguard_worker.py HOST_PID."""

import sys

if __name__ == "__main__":
    from lifeguard import _runtime

    sys.exit(_runtime.main(sys.argv[1:]))
