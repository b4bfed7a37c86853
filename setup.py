"""Packaging for the intercepting proxy suite (mitmdump, mitmproxy, pathod, pathoc).

Console scripts are added here as each tool lands; until then the packages import and
test on their own.
"""
from setuptools import Extension, find_packages, setup

setup(
    name="mitmproxy-suite",
    version="0.18.0",
    description="An intercepting proxy suite for HTTP/1, HTTP/2 and WebSocket in the "
    "tradition of mitmproxy 0.18",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["netlib", "netlib.*", "libmproxy", "libmproxy.*",
                                    "libpathod", "libpathod.*", "mitmproxy", "pathod"]),
    install_requires=[
        "pyOpenSSL>=24.0",
        "cryptography>=42.0",
        "h2>=4.1,<5",
        "hyperframe>=6.0,<7",
        "hpack>=4.0,<5",
        "brotli>=1.1",
        "certifi",
        "passlib>=1.7",
        "pyparsing>=3.1,<4",
        "ruamel.yaml>=0.18",
        "urwid>=2.6",
        # Content views (libmproxy/contentviews): JavaScript and CSS beautified, image
        # format and metadata.
        "jsbeautifier>=1.15",
        "cssbeautifier>=1.15",
        "Pillow>=10.0",
    ],
    extras_require={
        "dev": [
            "pytest>=8.0",
            "pytest-xdist>=3.5",
            "pytest-cov>=5.0",
            "pytest-timeout>=2.3",
            "requests>=2.31",
            "websockets>=15.0",  # test_websockets.py: client (through a proxy) and origin
        ],
    },
    # Flow files' tnetstrings in C (mitmdump -w, reading flow files); optional: without a
    # compiler the build goes on, and netlib/tnetstring.py and libmproxy/flow/encode.py
    # do the work in Python, about 4x slower.
    ext_modules=[Extension("netlib._tnetstring", ["netlib/_tnetstring.c"], optional=True)],
    entry_points={"console_scripts": [
        "mitmdump = libmproxy.main:mitmdump",
        "mitmproxy = libmproxy.main:mitmproxy",
        "pathod = libpathod.pathod_cmdline:go_pathod",
        "pathoc = libpathod.pathoc_cmdline:go_pathoc",
    ]},
)
