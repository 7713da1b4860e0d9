"""The page-arguments fix: same answers as GenroPy's regex, linear time, in every process."""

from __future__ import annotations

import inspect
import itertools
import os
import random
import re
import subprocess
import sys
import textwrap
import time

from genropy_asgi.compat.page_args import MARKUP_PATTERN, looks_like_markup, markup_aware_search


def test_the_slow_pattern_is_still_there():
    """Fails the day GenroPy changes build_arg_dict: then drop or revisit page_args_compat."""
    from gnr.web.gnrwebpage import GnrWebPage

    source = inspect.getsource(GnrWebPage.build_arg_dict)
    assert f're.compile(r"{MARKUP_PATTERN}")' in source, "GenroPy changed its markup check: revisit"
    assert "re.search(safety_re, " in source


def test_same_answer_as_the_regex_on_every_short_string():
    regex = re.compile(MARKUP_PATTERN)
    for length in range(0, 9):
        for chars in itertools.product("<>/a\n", repeat=length):
            text = "".join(chars)
            assert looks_like_markup(text) == bool(regex.search(text)), repr(text)


def test_same_answer_on_random_longer_strings():
    regex = re.compile(MARKUP_PATTERN)
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice("<>/ab\n\r") for _ in range(rng.randint(10, 40)))
        assert looks_like_markup(text) == bool(regex.search(text)), repr(text)
    assert looks_like_markup("<b>bold</b>") and not looks_like_markup("a < b > c")


def test_other_patterns_go_to_re():
    assert markup_aware_search(r"a+", "caab").group() == "aa"
    assert markup_aware_search(re.compile(MARKUP_PATTERN), "<i>x</i>") is True


def test_linear_on_a_megabyte():
    text = "x" * 1_000_000 + "<" * 1000
    started = time.perf_counter()
    assert not looks_like_markup(text)
    elapsed = time.perf_counter() - started
    print(f"1 MB checked in {elapsed * 1000:.1f} ms")  # the regex: minutes


CHILD = textwrap.dedent("""
    from gnr.web import gnrwebpage as m
    print(getattr(m, 'GENROPY_ASGI_PAGE_ARGS_COMPAT', 'untouched'))
    print(bool(m.re.search(m.re.compile(r"(.*<.*.*?>.+?</.*>)"), "<b>x</b>")), m.re.sub("a", "b", "aa"))
""")


def test_every_new_interpreter_gets_the_fix():
    result = subprocess.run([sys.executable, "-c", CHILD], env=dict(os.environ), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split("\n")[:2] == ["linear markup check", "True bb"]
