"""`debian_rootfs`: an image layer from pinned Debian packages (`@<name>//:base.tar.gz`).

Downloads the .debs named in a lock (bazel/debian*.lock, sha256-checked, kept in Bazel's
repository cache, so later fetches are offline), unpacks them without maintainer scripts and
packs one reproducible layer with bazel/oci_image.py. `base = True` is the base layer of every
image; other layers (a service's OS tools) hold only their own packages and go on top of it.
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
    cmd = [
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
    ]
    if rctx.attr.base:
        cmd.append("--base")
    for path, target in sorted(rctx.attr.links.items()):
        cmd.extend(["--link", "%s=%s" % (path, target)])
    for path in rctx.attr.drop:
        cmd.extend(["--drop", path])
    result = rctx.execute(cmd, timeout = 1200)
    if result.return_code != 0:
        fail("building the Debian base layer failed:\n%s\n%s" % (result.stdout, result.stderr))
    rctx.delete("debs")
    rctx.delete("rootfs")
    rctx.file("BUILD.bazel", 'exports_files(["base.tar.gz"], visibility = ["//visibility:public"])\n')

debian_rootfs = repository_rule(
    implementation = _debian_rootfs_impl,
    attrs = {
        "lock": attr.label(mandatory = True, allow_single_file = True),
        "base": attr.bool(default = True, doc = "the base layer (users, /tmp, ls, stdlib .pyc)"),
        "links": attr.string_dict(doc = "symlinks to add: path in the layer -> target"),
        "drop": attr.string_list(doc = "paths (relative) to leave out of the layer"),
        "python": attr.string(default = "/usr/bin/python3"),
        "_unpacker": attr.label(default = "//bazel:debian_rootfs.py", allow_single_file = True),
        "_oci_tool": attr.label(default = "//bazel:oci_image.py", allow_single_file = True),
    },
)
