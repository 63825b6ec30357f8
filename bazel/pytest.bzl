"""`pytest_suite`: one Bazel test target that runs pytest over folders of tests/."""

def pytest_suite(name, paths, deps = [], data = [], size = "medium", tags = []):
    """A py_test running bazel/pytest_main.py over `paths` (relative to the workspace root)."""
    native.py_test(
        name = name,
        srcs = ["//bazel:pytest_main.py"],
        main = "//bazel:pytest_main.py",
        args = paths,
        data = data + ["//:pyproject.toml"],
        deps = deps + ["@pypi//:dev"],
        python_version = "PY3",
        legacy_create_init = False,
        size = size,
        tags = tags,
    )

def pytest_suites(deps, data = [], skip = [], manual = []):
    """One pytest_suite per folder of the calling package that holds test files.

    tests/<folder>/ gives target <folder>_test; tests/services/<name>/ gives
    services_<name>_test, test files directly in tests/services/ give services_test. (A target
    named like its folder would clash with that folder in the runfiles tree.)
    Folders in `skip` get no target; those in `manual` are tagged manual (not in //...).
    `data` should list the members' pyproject.toml files: their console scripts are made.
    """
    dirs = {}
    top_service_files = []
    for path in native.glob(["**/test_*.py", "**/*_test.py"]):
        parts = path.split("/")
        if len(parts) < 2 or parts[0] in skip:
            continue
        if parts[0] == "services" and len(parts) > 2:
            dirs["services_" + parts[1]] = "services/" + parts[1]
        elif parts[0] == "services":
            top_service_files.append(path)  # tests of all services at once
        else:
            dirs[parts[0]] = parts[0]
    package = native.package_name()
    conftests = native.glob(["conftest.py", "services/conftest.py"])
    for name, folder in sorted(dirs.items()):
        pytest_suite(
            name = name + "_test",
            paths = [package + "/" + folder],
            data = data + conftests + native.glob([folder + "/**"], exclude = ["**/*.pyc"]),
            deps = deps,
            tags = ["manual"] if folder in manual else [],
        )
    if top_service_files:
        pytest_suite(
            name = "services_test",
            paths = [package + "/" + f for f in sorted(top_service_files)],
            data = data + conftests + top_service_files,
            deps = deps,
        )
