"""The optional compiled UDP loop of the embedded DNS server (everything else is in
pyproject.toml). Without a C compiler or Python's headers the build of this one
extension is skipped (optional=True) and the server runs the same loop in Python."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "zonewarden.backends.embedded._fastudp",
            ["src/zonewarden/backends/embedded/_fastudp.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
