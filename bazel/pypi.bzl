"""`pypi_repository`: the pinned PyPI lock as a Bazel repository (`@pypi//:runtime`, `:dev`).

Runs bazel/pypi_install.py, which installs the exact wheels (hashes required) with uv and
generates one py_library per distribution. Re-fetched when a lock file changes.
"""

def _pypi_repository_impl(rctx):
    python = rctx.attr.python
    uv = rctx.which("uv")
    if not uv:
        fail("uv is required on PATH to fetch @%s (see README set-up)" % rctx.name)
    args = [
        python,
        str(rctx.path(rctx.attr._installer)),
        "--uv",
        str(uv),
        "--python",
        python,
        "--runtime-lock",
        str(rctx.path(rctx.attr.runtime_lock)),
        "--dev-lock",
        str(rctx.path(rctx.attr.dev_lock)),
        "--out",
        str(rctx.path(".")),
    ]
    for name in rctx.attr.exclude:
        args += ["--exclude", name]
    result = rctx.execute(args, timeout = 1200, quiet = False)
    if result.return_code != 0:
        fail("installing the PyPI lock failed:\n%s\n%s" % (result.stdout, result.stderr))

pypi_repository = repository_rule(
    implementation = _pypi_repository_impl,
    attrs = {
        "runtime_lock": attr.label(mandatory = True, allow_single_file = True),
        "dev_lock": attr.label(mandatory = True, allow_single_file = True),
        "python": attr.string(default = "/usr/bin/python3"),
        "exclude": attr.string_list(doc = "dev-only distributions Bazel never needs"),
        "_installer": attr.label(default = "//bazel:pypi_install.py", allow_single_file = True),
    },
    environ = ["UV_CACHE_DIR", "UV_INDEX_URL", "UV_DEFAULT_INDEX"],
)
