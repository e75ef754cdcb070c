"""JupyterHub configuration for the Emojimation course on one server (up to about 100 students).

It works two ways:

* **The Littlest JupyterHub (TLJH)**: copy this file to ``/opt/tljh/config/jupyterhub_config.d/emojimation.py``
  and run ``sudo tljh-config reload hub``. TLJH keeps its own spawner (systemd, one Unix user ``jupyter-NAME``
  per student), authenticator and idle culler; this file adds the course's part: the data path, the exchange,
  the limits, the instructor, private home folders.
* **Plain JupyterHub** (``jupyterhub -f deploy/jupyterhub_config.py`` as root): the same, plus the idle culler as
  a hub service. tests/test_hub.py starts it this way on loopback, with configurable-http-proxy from npm, a real
  Unix user per account, and nbgrader's exchange round trip.

Settings come from environment variables of the hub, each with a default for a real server:

======================== =========================== ==========================================================
variable                 default                     meaning
======================== =========================== ==========================================================
EMOJIMATION_DATA         /srv/fer2013                FER2013, one read-only copy for everyone (``EMOLIB_DATA``)
EMOJIMATION_EXCHANGE     /srv/nbgrader/exchange      nbgrader's exchange folder (created 1777 when missing)
EMOJIMATION_INSTRUCTOR   instructor                  the account that holds ``~/course`` (source, solutions,
                                                     gradebook); a hub admin
EMOJIMATION_ROSTER       (none)                      a file of student account names, one a line; without it
                                                     the authenticator's own rule decides who may log in
EMOJIMATION_MEM_LIMIT    4G                          each server's memory limit (docs/TEACHING.md, "Sizing")
EMOJIMATION_CPU_LIMIT    1                           each server's CPU limit, in cores
EMOJIMATION_CULL_TIMEOUT 3600                        seconds of inactivity before a server is stopped
======================== =========================== ==========================================================

The limits are enforced by spawners that can (TLJH's systemd spawner, KubeSpawner, DockerSpawner); JupyterHub's
default LocalProcessSpawner, which the test uses, states them to the server (``MEM_LIMIT``, ``CPU_LIMIT``) but does
not enforce them.

**HTTPS is required for the webcam**: browsers hand a camera only to ``https://`` pages (or ``localhost``). On TLJH:
``sudo tljh-config set https.enabled true``, ``sudo tljh-config set https.letsencrypt.email you@school.edu``,
``sudo tljh-config add-item https.letsencrypt.domains hub.school.edu``; on plain JupyterHub set
``c.JupyterHub.ssl_cert``/``ssl_key`` or put it behind an HTTPS reverse proxy. Everything else works over HTTP.
"""
import os
import pwd
import stat
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (JupyterHub's config loader provides it)

HERE = Path(__file__).resolve().parent
DATA = os.environ.get("EMOJIMATION_DATA", "/srv/fer2013")
EXCHANGE = os.environ.get("EMOJIMATION_EXCHANGE", "/srv/nbgrader/exchange")
INSTRUCTOR = os.environ.get("EMOJIMATION_INSTRUCTOR", "instructor")
ROSTER = os.environ.get("EMOJIMATION_ROSTER")
MEM_LIMIT = os.environ.get("EMOJIMATION_MEM_LIMIT", "4G")
CPU_LIMIT = float(os.environ.get("EMOJIMATION_CPU_LIMIT", "1"))
CULL_TIMEOUT = int(os.environ.get("EMOJIMATION_CULL_TIMEOUT", "3600"))

# --------------------------------------------------------------------------- who may log in, who teaches
c.Authenticator.admin_users = {INSTRUCTOR}
if ROSTER:
    students = {line.strip() for line in Path(ROSTER).read_text().splitlines() if line.strip() and not line.startswith("#")}
    c.Authenticator.allowed_users = students | {INSTRUCTOR}
# The instructor is also in nbgrader's group for the course's formgrader (nbgrader's multi-course convention).
c.JupyterHub.load_groups = {"formgrade-emojimation": {"users": [INSTRUCTOR]},
                            "nbgrader-emojimation": {"users": sorted(c.Authenticator.allowed_users - {INSTRUCTOR})
                                                     if ROSTER else []}}

# --------------------------------------------------------------------------- each student's server
# The course is installed in the users' environment (TLJH: /opt/tljh/user; deploy/README.md says how); every
# server sees FER2013 read-only through EMOLIB_DATA and nbgrader's shared settings (exchange, course id) through
# JUPYTER_CONFIG_PATH. Grading never trains (EMOLIB_TRAIN unset).
c.Spawner.environment = {
    "EMOLIB_DATA": DATA,
    "EMOJIMATION_EXCHANGE": EXCHANGE,
    "JUPYTER_CONFIG_PATH": str(HERE / "jupyter"),
    # TensorFlow sizes its thread pools from the cores it sees, not from the CPU limit: match the limit.
    "TF_NUM_INTEROP_THREADS": str(max(1, int(CPU_LIMIT))),
    "TF_NUM_INTRAOP_THREADS": str(max(1, int(CPU_LIMIT))),
    "OMP_NUM_THREADS": str(max(1, int(CPU_LIMIT))),
}
c.Spawner.mem_limit = MEM_LIMIT
c.Spawner.cpu_limit = CPU_LIMIT
c.Spawner.default_url = "/lab"
c.Spawner.http_timeout = 120  # a server on a busy machine imports JupyterLab slowly
c.Spawner.start_timeout = 120


def private_home(spawner) -> None:
    """Before a server starts: its user's home folder is 0700, so no student reads another's work, and none reads
    the instructor's ``~/course`` (source with solutions, gradebook). Runs in the hub (root under TLJH)."""
    for name in (spawner.user.name, f"jupyter-{spawner.user.name}"):  # plain JupyterHub, TLJH's naming
        try:
            home = pwd.getpwnam(name).pw_dir
        except KeyError:
            continue
        if os.path.isdir(home) and os.geteuid() == 0:
            os.chmod(home, 0o700)
        return


c.Spawner.pre_spawn_hook = private_home

# --------------------------------------------------------------------------- nbgrader's exchange
if os.geteuid() == 0 and not os.path.isdir(EXCHANGE):
    os.makedirs(EXCHANGE)
    os.chmod(EXCHANGE, 0o777 | stat.S_ISVTX)  # as nbgrader asks: everyone writes, nobody deletes others' files

# --------------------------------------------------------------------------- idle servers are stopped
# TLJH runs jupyterhub-idle-culler itself (tljh-config set services.cull.timeout 3600); elsewhere it runs here.
_services = c.JupyterHub.services if "services" in c.JupyterHub else []
if not any("cull" in s.get("name", "") for s in _services):
    c.JupyterHub.services = list(_services) + [{
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={CULL_TIMEOUT}"],
    }]
    c.JupyterHub.load_roles = [{
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }]
