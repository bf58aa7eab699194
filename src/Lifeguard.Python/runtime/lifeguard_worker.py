"""Entry point of a Lifeguard Python worker process. Started by the host as: python3 lifeguard_worker.py HOST_PID.

A pool's fork server starts it as: python3 lifeguard_worker.py --fork-server HOST_PID ... (lifeguard/_forkserver.py).
"""

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["--fork-server"]:
        from lifeguard import _forkserver

        sys.exit(_forkserver.main(sys.argv[2:]))
    from lifeguard import _runtime

    sys.exit(_runtime.main(sys.argv[1:]))
