"""nbgrader's configuration for every account on the course's hub (students and the instructor).

The hub sets ``JUPYTER_CONFIG_PATH`` to this folder (deploy/jupyterhub_config.py), so ``nbgrader fetch_assignment``,
``submit``, ``fetch_feedback`` and the instructor's ``release_assignment``/``collect`` all meet in one exchange
folder. On The Littlest JupyterHub, copy it to ``/opt/tljh/user/etc/jupyter/nbgrader_config.py`` instead.
"""
import os

c = get_config()  # noqa: F821 (nbgrader's config loader provides it)

c.CourseDirectory.course_id = os.environ.get("EMOJIMATION_COURSE_ID", "emojimation")
# The exchange: world-writable with the sticky bit (1777); nbgrader gives each course outbound/ (readable),
# inbound/ (733: students drop submissions, cannot list them) and feedback/ (711).
c.Exchange.root = os.environ.get("EMOJIMATION_EXCHANGE", "/srv/nbgrader/exchange")
