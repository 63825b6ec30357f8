"""`osk8s_service`: the Bazel targets of one service (library, binaries, image, smoke test).

Binaries are generated two-line mains calling the same `module:function` as the service's
[project.scripts], so `bazel run` and the images start exactly what `uv run` starts.
"""

load("//bazel:oci.bzl", "oci_image")

def osk8s_service(name, binaries, version = "0.1.0", os_layers = [], links = {}):
    """Targets: :lib, one py_binary per entry of binaries, :image, :version_test.

    Args:
      name: service folder name (e.g. "ccm").
      binaries: list of (binary name, "module:function"); the first is the entrypoint.
      version: image tag.
      os_layers: Debian layers the image adds on top of the base (upstream's OS tools).
      links: extra symlinks in the image (e.g. {"/bin/sh": "busybox"}).
    """
    native.exports_files(["pyproject.toml"], visibility = ["//visibility:public"])
    native.py_library(
        name = "lib",
        srcs = native.glob(["src/**/*.py"]),
        data = native.glob(["src/**/*"], exclude = ["src/**/*.py", "src/**/*.pyc"]),
        imports = ["src"],
        deps = ["//libs/osk8s_core"],
        visibility = ["//visibility:public"],
    )
    names = []
    for binary, ref in binaries:
        module, function = ref.split(":")
        main = binary.replace("-", "_") + "_main.py"
        native.genrule(
            name = binary + "_main",
            outs = [main],
            cmd = "printf '%%s\\n' '\"\"\"%s: generated entry point.\"\"\"' 'from %s import %s' 'raise SystemExit(%s())' > $@" % (binary, module, function, function),
        )
        native.py_binary(
            name = binary,
            srcs = [main],
            main = main,
            python_version = "PY3",
            legacy_create_init = False,
            deps = [":lib"],
            visibility = ["//visibility:public"],
        )
        names.append(binary)
    oci_image(
        name = "image",
        entrypoint = ":" + names[0],
        binaries = [":" + n for n in names[1:]],
        os_layers = os_layers,
        links = links,
        tag = "osk8s/%s:%s" % (names[0], version),
        labels = {
            "org.opencontainers.image.title": names[0],
            "org.opencontainers.image.version": version,
            "org.opencontainers.image.source": "osk8s/services/" + name,
            "org.opencontainers.image.licenses": "Apache-2.0",
        },
        visibility = ["//visibility:public"],
    )
    native.py_test(
        name = "version_test",
        srcs = ["//bazel:version_check.py"],
        main = "//bazel:version_check.py",
        args = ["$(rootpath :%s)" % n for n in names],
        data = [":" + n for n in names],
        python_version = "PY3",
        legacy_create_init = False,
        size = "small",
    )
