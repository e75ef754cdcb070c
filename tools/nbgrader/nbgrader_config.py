"""nbgrader's configuration for an Emojimation course folder (tools/grade_demo.py copies it there).

Put this file at the root of the nbgrader course folder (beside ``source/``, ``submitted/``, ...), and set
``EMOLIB_DATA`` to the grading machine's FER2013 folder before running nbgrader: the kernels that run the
submissions inherit the environment, and notebooks 01-04 load FER2013 (docs/TEACHING.md, "Grading with nbgrader").
Names follow nbgrader 0.9.6 (https://nbgrader.readthedocs.io/en/stable/configuration/config_options.html).
"""
import os
import warnings

c = get_config()  # noqa: F821 (nbgrader's config loader provides it)

c.CourseDirectory.course_id = "emojimation"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# Per-cell timeout. nbgrader's default (30 s) stops notebook 03, whose training cells take 60-100 s on a fast
# 2-core CPU and 3-4 times longer on an AVX2-only one; 900 s is the limit the project's nbval runs use too.
c.Execute.timeout = 900
c.Execute.interrupt_on_timeout = True

# Notebooks 01-04 read FER2013 from $EMOLIB_DATA (or data/fer2013 in the course copy of emolib): the kernels
# nbgrader starts inherit this process's environment, so EMOLIB_DATA is passed through as it is.
if not os.environ.get("EMOLIB_DATA"):
    warnings.warn("EMOLIB_DATA is not set: notebooks 01-04 will look for FER2013 in emolib's data/fer2013 only, "
                  "and every check that needs the data scores 0 if it is not there", stacklevel=1)
# Grading never trains the class recipe (notebook 03 trains only when EMOLIB_TRAIN=1).
os.environ.pop("EMOLIB_TRAIN", None)
