#!/bin/sh
echo "bazel coverage is not supported in osk8s: use pytest-cov" >&2
exit 1
