"""OCI image rules: `oci_layer` (runfiles of py targets as one layer) and `oci_image`.

Every binary's runfiles are merged into /app/runfiles, each Bazel py_binary launcher sits at
/app/<name> with /app/<name>.runfiles -> runfiles, and /bin/<name> links to it (the path
upstream's manifests run). The entrypoint is bazel/entrypoint.py (go-runner style: `args` may
start with a program path, with a flag, or be empty). The user is root, as in upstream's images.
Layers: Debian base / the service's OS tools (optional) / third-party wheels (@pypi, shared by
all images) / our code.
"""

_APP = "app"

# PATH as container runtimes default it: exec probes (`ls`) and `sh -c` strings find tools.
_ENV = [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "PYTHONUNBUFFERED=1",
    "PYTHONDONTWRITEBYTECODE=1",
]
_THIRD_PARTY_REPO = "pypi"

def _runfiles_path(ctx, short_path):
    """Path of a file inside a runfiles tree (no legacy external runfiles)."""
    if short_path.startswith("../"):
        return short_path[3:]
    return ctx.workspace_name + "/" + short_path

def _is_third_party(path):
    return path.startswith(_THIRD_PARTY_REPO + "/")

def _manifest_lines(ctx, targets, want_third_party):
    lines = []
    files = []
    for target in targets:
        runfiles = target[DefaultInfo].default_runfiles
        for f in runfiles.files.to_list():
            path = _runfiles_path(ctx, f.short_path)
            if _is_third_party(path) != want_third_party:
                continue
            lines.append("file\t/%s/runfiles/%s\t%s" % (_APP, path, f.path))
            files.append(f)
        for name in runfiles.empty_filenames.to_list():
            path = _runfiles_path(ctx, name)
            if _is_third_party(path) == want_third_party:
                lines.append("empty\t/%s/runfiles/%s" % (_APP, path))
    return lines, files

def _write_layer(ctx, lines, inputs, out):
    manifest = ctx.actions.declare_file(out.basename + ".manifest")
    ctx.actions.write(manifest, "\n".join(sorted(lines)) + "\n")
    ctx.actions.run(
        executable = ctx.executable._tool,
        arguments = ["layer", "--pyc", "--manifest", manifest.path, "--out", out.path],
        inputs = inputs + [manifest],
        outputs = [out],
        mnemonic = "OciLayer",
        progress_message = "Writing OCI layer %s" % out.short_path,
    )

def _oci_layer_impl(ctx):
    out = ctx.actions.declare_file(ctx.label.name + ".tar.gz")
    lines, files = _manifest_lines(ctx, ctx.attr.srcs, want_third_party = True)
    _write_layer(ctx, lines, files, out)
    return [DefaultInfo(files = depset([out]))]

oci_layer = rule(
    implementation = _oci_layer_impl,
    doc = "The third-party (@pypi) runfiles of srcs as one layer under /app/runfiles.",
    attrs = {
        "srcs": attr.label_list(mandatory = True),
        "_tool": attr.label(default = "//bazel:oci_image", executable = True, cfg = "exec"),
    },
)

def _check_third_party(ctx, binaries):
    """Fails if a binary needs a wheel the shared third-party layer does not ship."""
    shipped = {}
    for target in ctx.attr.third_party_srcs:
        for f in target[DefaultInfo].default_runfiles.files.to_list():
            shipped[f.short_path] = True
    for binary in binaries:
        for f in binary[DefaultInfo].default_runfiles.files.to_list():
            path = _runfiles_path(ctx, f.short_path)
            if _is_third_party(path) and f.short_path not in shipped:
                fail("%s needs %s, which is not in the runtime lock (requirements.lock)" % (
                    binary.label,
                    path,
                ))

def _oci_image_impl(ctx):
    binaries = [ctx.attr.entrypoint] + ctx.attr.binaries
    _check_third_party(ctx, binaries)
    lines, files = _manifest_lines(ctx, binaries, want_third_party = False)
    for binary in binaries:
        exe = binary[DefaultInfo].files_to_run.executable
        lines.append("file\t/%s/%s\t%s" % (_APP, exe.basename, exe.path))
        lines.append("symlink\t/%s/%s.runfiles\trunfiles" % (_APP, exe.basename))
        # The launcher follows this link to find its runfiles (Bazel's stub resolves argv[0]).
        lines.append("symlink\t/bin/%s\t/%s/%s" % (exe.basename, _APP, exe.basename))
        files.append(exe)
    lines.append("file\t/%s/entrypoint.py\t%s" % (_APP, ctx.file._entrypoint.path))
    files.append(ctx.file._entrypoint)
    for path, target in sorted(ctx.attr.links.items()):
        lines.append("symlink\t%s\t%s" % (path, target))
    app_layer = ctx.actions.declare_file(ctx.label.name + ".app.tar.gz")
    _write_layer(ctx, lines, files, app_layer)

    entry = ctx.attr.entrypoint[DefaultInfo].files_to_run.executable.basename
    layout = ctx.actions.declare_directory(ctx.label.name + ".oci")
    tarball = ctx.actions.declare_file(ctx.label.name + ".tar")
    digest = ctx.actions.declare_file(ctx.label.name + ".digest")
    layers = [ctx.file.base] + ctx.files.os_layers + [ctx.file.third_party, app_layer]
    comments = (["debian base"] + ["debian os tools"] * len(ctx.files.os_layers) +
                ["third-party wheels", "osk8s code"])
    args = ctx.actions.args()
    args.add("image")
    for layer, comment in zip(layers, comments):
        args.add("--layer", layer)
        args.add("--layer-comment", comment)
    args.add("--entrypoint", json.encode([
        "/usr/bin/python3",
        "/%s/entrypoint.py" % _APP,
        "/bin/%s" % entry,
    ]))
    args.add("--user", ctx.attr.user)
    for kv in _ENV + ctx.attr.env:
        args.add("--env", kv)
    for key, value in sorted(ctx.attr.labels.items()):
        args.add("--label", "%s=%s" % (key, value))
    args.add("--tag", ctx.attr.tag)
    args.add("--out-dir", layout.path)
    args.add("--out-tar", tarball)
    args.add("--digest-file", digest)
    ctx.actions.run(
        executable = ctx.executable._tool,
        arguments = [args],
        inputs = layers,
        outputs = [layout, tarball, digest],
        mnemonic = "OciImage",
        progress_message = "Writing OCI image %s" % ctx.label,
    )
    return [
        DefaultInfo(files = depset([layout, tarball, digest])),
        OutputGroupInfo(tarball = depset([tarball]), layout = depset([layout])),
    ]

oci_image = rule(
    implementation = _oci_image_impl,
    doc = "An OCI image layout (<name>.oci/), an oci-archive (<name>.tar) and its digest.",
    attrs = {
        "entrypoint": attr.label(mandatory = True, executable = True, cfg = "target"),
        "binaries": attr.label_list(doc = "more py_binary launchers shipped in /app"),
        "base": attr.label(default = "@debian_base//:base.tar.gz", allow_single_file = True),
        "os_layers": attr.label_list(
            allow_files = [".tar.gz"],
            doc = "Debian layers on top of the base (a service's OS tools)",
        ),
        "links": attr.string_dict(doc = "symlinks in the app layer: absolute path -> target"),
        "user": attr.string(default = "0:0", doc = "upstream's images run as root"),
        "_entrypoint": attr.label(default = "//bazel:entrypoint.py", allow_single_file = True),
        "third_party": attr.label(default = "//bazel:pypi_layer", allow_single_file = True),
        "third_party_srcs": attr.label_list(
            default = ["@pypi//:runtime"],
            doc = "what the third_party layer was made from (checked to cover the binaries)",
        ),
        "env": attr.string_list(),
        "labels": attr.string_dict(),
        "tag": attr.string(mandatory = True),
        "_tool": attr.label(default = "//bazel:oci_image", executable = True, cfg = "exec"),
    },
)
