"""Code that runs INSIDE the test cloud's OpenStack venv, not in the project venv.

Each module here is loaded by an OpenStack service (ML2 driver, Octavia compute driver, Cinder
driver, the gunicorn launcher) or run as a script by the bring-up. They import only the
standard library and OpenStack packages, never osk8s_testing or osk8s_core.
"""
