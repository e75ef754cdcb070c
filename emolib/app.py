"""The demo as a web page without code: ``python -m emolib app`` serves ``assets/app.ipynb`` with Voila.

On this computer only (the default, ``--ip 127.0.0.1``) it needs no token. Listening on any other
address (``--ip 0.0.0.0`` shares it with a class) requires a token: one is generated and printed in the
address to share, like Jupyter's, unless ``--token`` gives it, and a warning says what is exposed.
Each visitor gets a Python kernel of their own, which is shut down after ``--cull-minutes`` (20) without
activity. ``--kernels`` kernels are started before anyone asks (Voila's preheated kernel pool), each
with the demo built and its model loaded, so that many visitors arriving at once each see the page within
seconds. The number of test-time views per face (``--views``) is chosen once, when the app starts, and
every kernel uses it.

>>> args = parser().parse_args(["--ip", "0.0.0.0", "--token", "abc", "--no-browser"])
>>> cmd = voila_command(args, "abc")
>>> [c for c in cmd if "token" in c or "pool" in c or "cull_idle" in c]
['--Voila.token=abc', '--MappingKernelManager.cull_idle_timeout=1200', '--VoilaConfiguration.default_pool_size=30']
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

from .views import VIEW_CHOICES, VIEWS, add_views_option

#: Addresses that reach this computer only: the app is served there without a token.
LOCAL_ADDRESSES = {"127.0.0.1", "localhost", "::1"}
#: A visitor's kernel without activity for this many minutes is shut down (``--cull-minutes``).
CULL_MINUTES = 20
#: Kernels started ahead of visitors (``--kernels``): on this computer only, and when shared (a class of 30
#: at once: with 8, the visitors without one waited up to half a minute for the page,
#: benchmarks/results/APP_VISITORS.md).
KERNELS_LOCAL, KERNELS_SHARED = 1, 30
#: Seconds between a visitor taking a pre-started kernel and its replacement starting: a class arriving at
#: once gets its pages and first answers before the replacements take the CPU.
REFILL_DELAY_S = 30
APP_NOTEBOOK = Path(__file__).resolve().parent / "assets" / "app.ipynb"


def parser(p: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The options of ``python -m emolib app`` (added to ``p`` if given)."""
    p = p or argparse.ArgumentParser(prog="python -m emolib app")
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--ip", default="127.0.0.1",
                   help="address to listen on (default: this computer only); any other, e.g. 0.0.0.0 for a "
                        "class on the same network, requires a token")
    p.add_argument("--token", default=None,
                   help="the token visitors need (default: none on this computer only; otherwise one is "
                        "generated and printed in the address to share)")
    p.add_argument("--kernels", type=int, default=None, metavar="N",
                   help=f"kernels started before anyone asks, each with the demo built: N visitors arriving at "
                        f"once see the page without waiting for a kernel (default {KERNELS_LOCAL} on this "
                        f"computer only, {KERNELS_SHARED} when shared; each about 180 MiB (RSS), and each one a visitor takes is replaced, see --refill-seconds; 0: start one per visitor)")
    p.add_argument("--refill-seconds", type=float, default=REFILL_DELAY_S, metavar="S",
                   help=f"start the replacement of a pre-started kernel S seconds after a visitor takes it (default "
                        f"{REFILL_DELAY_S}: a class arriving at once gets its pages and first answers before the "
                        f"replacements take the CPU)")
    p.add_argument("--cull-minutes", type=float, default=CULL_MINUTES, metavar="MIN",
                   help=f"shut down a visitor's kernel after this many minutes without activity, tab open or not "
                        f"(default {CULL_MINUTES}; the visitor reloads the page to go on; 0: never)")
    add_views_option(p, "per face for every visitor", "once when the app starts")
    p.add_argument("--browser", action=argparse.BooleanOptionalAction, default=True, help="open a browser tab")
    return p


def is_local(ip: str) -> bool:
    """Whether ``ip`` reaches this computer only (no token needed).

    >>> is_local("127.0.0.1"), is_local("0.0.0.0"), is_local("192.168.1.20"), is_local("127.0.0.2")
    (True, False, False, True)
    """
    return ip in LOCAL_ADDRESSES or ip.startswith("127.")


def new_token() -> str:
    """A random token of 48 hexadecimal digits, as Jupyter generates.

    >>> len(new_token()), new_token() != new_token()
    (48, True)
    """
    return secrets.token_hex(24)


def voila_command(args: argparse.Namespace, token: str) -> list[str]:
    """The Voila command line that serves the app with these options and this token ("" for none)."""
    kernels = args.kernels if args.kernels is not None else (KERNELS_LOCAL if is_local(args.ip) else KERNELS_SHARED)
    idle_s = round(60 * max(0.0, args.cull_minutes))
    cmd = [sys.executable, "-m", "voila", str(APP_NOTEBOOK), f"--port={args.port}", f"--Voila.ip={args.ip}",
           "--theme=light", "--show_tracebacks=False", "--Voila.port_retries=0", f"--Voila.token={token}",
           # visitors' idle kernels are shut down; the pre-started ones waiting for a visitor are not
           "--VoilaConfiguration.multi_kernel_manager_class=emolib.appserver.AppKernelManager",
           f"--MappingKernelManager.cull_idle_timeout={idle_s}",
           f"--MappingKernelManager.cull_interval={max(1, min(60, idle_s // 2))}",
           "--MappingKernelManager.cull_connected=True"]
    if kernels > 0:   # Voila's preheated kernel pool: each runs app.ipynb before a visitor asks for it
        cmd += ["--VoilaConfiguration.preheat_kernel=True", f"--VoilaConfiguration.default_pool_size={kernels}",
                f"--VoilaKernelManager.fill_delay={max(0.0, args.refill_seconds):g}"]
    if not args.browser:
        cmd.append("--no-browser")
    return cmd


def _addresses(ip: str, port: int, token: str) -> list[str]:
    query = f"?token={token}" if token else ""
    if ip in ("0.0.0.0", "::", ""):
        hosts = [socket.gethostname()]
        try:      # the address other computers reach this one by (no packet is sent)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect(("10.255.255.255", 1))
                hosts.append(s.getsockname()[0])
        except OSError:
            pass
        hosts.append("127.0.0.1")
    else:
        hosts = [f"[{ip}]" if ":" in ip else ip]
    return [f"http://{h}:{port}/{query}" for h in dict.fromkeys(hosts)]


def serve(args: argparse.Namespace) -> int:
    """Check the options, print the address(es) to open (with the token) and what is exposed, then become Voila."""
    if importlib.util.find_spec("voila") is None:
        print("error: the app needs Voila: pip install 'voila>=0.5,<0.6'", file=sys.stderr)
        return 2
    if args.kernels is not None and args.kernels < 0:
        print(f"error: --kernels is a number of kernels, 0 or more, not {args.kernels}", file=sys.stderr)
        return 2
    local = is_local(args.ip)
    token = args.token if args.token is not None else ("" if local else new_token())
    if not local and not token.strip():
        print(f"error: --ip {args.ip} lets other computers in, so the app needs a token: leave --token out to get "
              f"one generated, or give a non-empty one", file=sys.stderr)
        return 2
    # timed here, on a machine still quiet, rather than in each kernel as visitors arrive: every visitor
    # gets the same views, and a kernel's first answer does not pay for the timing
    from .predict import choose_views

    views = args.views or os.environ.get("EMOLIB_VIEWS", "auto")
    if views not in VIEW_CHOICES:
        print(f"error: EMOLIB_VIEWS is {views!r}; it takes auto or a number of views: "
              f"{', '.join(str(v) for v in sorted(VIEWS))}", file=sys.stderr)
        return 2
    env = dict(os.environ, EMOLIB_VIEWS=str(choose_views() if views == "auto" else views))
    urls = _addresses(args.ip, args.port, token)
    if not local:
        print(f"WARNING: the app listens on {args.ip}:{args.port}, not on this computer only. Anyone who can reach "
              f"this computer over the network and has the address with its token can open the demo, upload "
              f"photos and use the webcam on their own device; each visitor runs a Python kernel here that uses "
              f"this computer's CPU and memory (the kernels take widget messages only: visitors cannot run "
              f"code). Photos stay in memory and are never saved. Plain http: share the address on a network "
              f"you trust, and stop the app (Ctrl+C) after the class.", file=sys.stderr, flush=True)
    print("Emojimation app" + (" (share this address with the token)" if token else "") + ":\n"
          + "\n".join(f"    {u}" for u in urls) + f"\n{env['EMOLIB_VIEWS']} test-time view(s) per face"
          + ("" if views != "auto" else " (timed on this computer; --views to choose)") + "\n(Ctrl+C stops it)",
          flush=True)
    cmd = voila_command(args, token)
    if os.name == "posix":     # become Voila: a signal that stops this process stops the server and its kernels
        os.execve(sys.executable, cmd, env)
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 0
