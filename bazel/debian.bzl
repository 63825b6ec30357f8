"""`debian_rootfs`: the image base layer from pinned Debian packages (`@debian_base//:base.tar.gz`).

Downloads the .debs named in bazel/debian.lock (sha256-checked, kept in Bazel's repository
cache, so later fetches are offline), unpacks them without maintainer scripts and packs one
reproducible layer with bazel/oci_image.py.
"""

def _debian_rootfs_impl(rctx):
    lock = rctx.read(rctx.attr.lock)
    for line in lock.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, version, sha256, url = line.split(" ")
        rctx.download(
            url = url,
            output = "debs/%s.deb" % name,
            sha256 = sha256,
        )
    result = rctx.execute([
        rctx.attr.python,
        str(rctx.path(rctx.attr._unpacker)),
        "--debs",
        "debs",
        "--rootfs",
        "rootfs",
        "--oci-tool",
        str(rctx.path(rctx.attr._oci_tool)),
        "--out",
        "base.tar.gz",
    ], timeout = 1200)
    if result.return_code != 0:
        fail("building the Debian base layer failed:\n%s\n%s" % (result.stdout, result.stderr))
    rctx.delete("debs")
    rctx.delete("rootfs")
    rctx.file("BUILD.bazel", 'exports_files(["base.tar.gz"], visibility = ["//visibility:public"])\n')

debian_rootfs = repository_rule(
    implementation = _debian_rootfs_impl,
    attrs = {
        "lock": attr.label(mandatory = True, allow_single_file = True),
        "python": attr.string(default = "/usr/bin/python3"),
        "_unpacker": attr.label(default = "//bazel:debian_rootfs.py", allow_single_file = True),
        "_oci_tool": attr.label(default = "//bazel:oci_image.py", allow_single_file = True),
    },
)
