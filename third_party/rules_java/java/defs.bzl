"""Offline stand-in for rules_java: re-exports Bazel's native Java rules.

Bazel 4.2 parses `@bazel_tools//tools/jdk` (which loads `@rules_java//java:defs.bzl`) while
resolving toolchains for any rule; the real rules_java would be downloaded. We build no Java.
"""

def java_binary(**kwargs):
    native.java_binary(**kwargs)

def java_import(**kwargs):
    native.java_import(**kwargs)

def java_library(**kwargs):
    native.java_library(**kwargs)

def java_proto_library(**kwargs):
    native.java_proto_library(**kwargs)

def java_runtime(**kwargs):
    native.java_runtime(**kwargs)

def java_test(**kwargs):
    native.java_test(**kwargs)

def java_toolchain(**kwargs):
    native.java_toolchain(**kwargs)
