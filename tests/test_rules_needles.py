"""The needles of the built-in rules (``Rule.needles``, ``required_literals``): a rule whose needles an ASCII text
does not hold is not searched. Skipping must never change which rule wins, nor what it matched: ``RuleSet.match``
is compared here with the plain loop (every rule searched, in order, on both forms) on every text of the real logs
and on texts made of the rules' own words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fixturelib import EXCERPTS, LIVE, SHARED, log_lines
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buildlog import DEFAULT_RULES, rules_from_toml, summarize_bytes
from buildlog.rules import BUILTIN_RULES, SCOPES, Rule, RuleSet, required_literals

CORPUS = Path(__file__).parent / "fuzz_corpus"
LOGS = sorted([*SHARED.glob("*.log"), *LIVE.glob("*.log"), *EXCERPTS.glob("*.log"), *CORPUS.glob("*.log")])
STYLES = sorted({r.style for r in BUILTIN_RULES if r.style is not None})


def plain_match(rules: RuleSet, text: str, scope: str, style: str | None = None,
                also: str | None = None) -> tuple[Rule, str] | None:
    """RuleSet.match without needles: each rule in order, searched on each form."""
    for rule in rules.rules:
        if rule.scope != scope or (rule.style is not None and rule.style != style):
            continue
        for form in (text,) if also is None else (text, also):
            m = rule.pattern.search(form)
            if m is not None:
                return rule, m.group(0)
    return None


def same_as_plain(text: str, scope: str, style: str | None = None, also: str | None = None) -> None:
    got = DEFAULT_RULES.match(text, scope=scope, style=style, also=also)
    want = plain_match(DEFAULT_RULES, text, scope, style, also)
    assert (got and (got[0].name, got[1])) == (want and (want[0].name, want[1])), (text, scope, style)


# -- what is derived from a pattern (expected values read from the patterns) -------------------------------------

@pytest.mark.parametrize(("pattern", "needles"), [
    # either alternative, each one chain of literals
    (r"no space left on device|disk quota exceeded", (("disk quota exceeded",), ("no space left on device",))),
    # lower case; "^" and "\Z" consume nothing; the "\n" alternative leaves the group without a text of its own
    (r"(?:^|\n)Killed\s*\Z", (("killed",),)),
    # an optional group breaks the chain: both sides are required, apart
    (r"foo(?:bar)?baz", (("baz", "foo"),)),
    # a lookahead consumes nothing: "ab" and "cd" are next to each other in every match
    (r"ab(?=c)cd", (("abcd",),)),
    # a repeat of at least once requires its content; of possibly none, nothing
    (r"(?:abc)+x\d", (("abc",),)),
    (r"(?:abc)*", None),
    # an alternative that requires nothing: the alternation requires nothing
    (r"abc|\d+", None),
    # a non-ASCII letter breaks a chain
    ("caf\u00e9 au lait", ((" au lait", "caf"),)),
    # alternatives of a group multiply the clauses of the sequence
    (r"(?:COPY|ADD) failed: x", ((" failed: x", "copy"), (" failed: x", "add"))),
    # not a pattern the standard library reads: no needles (the rule is always searched)
    (r"\p{L}+ failed", None),
])
def test_required_literals(pattern: str, needles: tuple[tuple[str, ...], ...] | None) -> None:
    got = required_literals(pattern)
    assert (sorted(got) if got is not None else None) == (sorted(needles) if needles is not None else None)


def test_builtin_rule_needles_come_from_its_pattern() -> None:
    rule = next(r for r in BUILTIN_RULES if r.name == "disk-full-output")
    assert rule.needles == (("disk quota exceeded",), ("no space left on device",))


@pytest.mark.parametrize("rule", BUILTIN_RULES, ids=lambda r: r.name)
def test_builtin_patterns_are_read_alike_by_both_parsers(rule: Rule) -> None:
    # the needles come from the standard library's reading of the pattern: no syntax it reads otherwise than the
    # regex module (a fuzzy constraint, "{e<=1}", would be literal text to it), and none it cannot read
    assert isinstance(rule.source, str)
    re.compile(rule.source, re.IGNORECASE | re.DOTALL)
    assert not re.search(r"\{[^}]*[<>=][^}]*\}", rule.source)
    assert rule.needles  # every built-in rule has some: a pattern without is searched in every text


def test_user_rules_have_no_needles() -> None:
    # a user pattern may use syntax of the regex module that the standard parser reads as literals ({e<=1}: fuzzy)
    user = rules_from_toml('[[rule]]\npattern = "(?:conection refused){e<=1}"\nclass = "network"\n')[0]
    assert user.needles == ()
    matched = RuleSet().with_rules([user]).match("connection refused by peer 10.0.0.1")
    assert matched is not None and matched[0] is user
    same_name = Rule("network", next(r for r in BUILTIN_RULES if r.name == "network").source, "network", True, "r")
    assert same_name.needles == ()  # equal to a built-in rule's pattern is not being one


# -- texts that are not ASCII are searched: a letter can match another case-insensitively --------------------------

@pytest.mark.parametrize(("text", "scope", "rule", "matched"), [
    # synthetic: "K" is the Kelvin sign, "ſ" the long s, "İ" the dotted capital I
    ("\u212Ailled", "step-output", "killed-output", "\u212Ailled"),
    ("no \u017Fpace left on device", "step-output", "disk-full-output", "no \u017Fpace left on device"),
    ("connection refu\u017Fed", "final", "network", "connection refu\u017Fed"),
    ("FA\u0130LED to dial", "final", "builder-unreachable", "FA\u0130LED to dial"),
])
def test_non_ascii_texts_are_searched(text: str, scope: str, rule: str, matched: str) -> None:
    got = DEFAULT_RULES.match(text, scope=scope)
    assert got is not None and (got[0].name, got[1]) == (rule, matched)


# -- the same verdicts as the plain loop --------------------------------------------------------------------------

def _texts_matched_by_summaries() -> list[tuple[str, str, str | None, str | None]]:
    seen: list[tuple[str, str, str | None, str | None]] = []
    original = RuleSet.match

    def spy(self: RuleSet, text: str, scope: str = "final", style: str | None = None, on_timeout: object = None,
            *, also: str | None = None) -> tuple[Rule, str] | None:
        seen.append((text, scope, style, also))
        return original(self, text, scope, style, None, also=also)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(RuleSet, "match", spy)
        for log in LOGS:
            summarize_bytes(log.read_bytes())
    return seen


def test_texts_the_summaries_match_on_every_real_log() -> None:
    texts = _texts_matched_by_summaries()
    assert {scope for _t, scope, _s, _a in texts} == set(SCOPES)
    assert any(also is not None for _t, _s, _st, also in texts)  # hard-wrapped messages (the excerpts have some)
    for text, scope, style, also in texts:
        same_as_plain(text, scope, style, also)


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.name)
def test_every_line_of_every_real_log(log: Path) -> None:
    for raw in log_lines(log):
        line = raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
        for scope in SCOPES:
            same_as_plain(line, scope)
        for style in STYLES:
            same_as_plain(line, "final", style)


# Texts made of the words the rules look for (their needles, in any case), of real message pieces, of other
# letters and of the non-ASCII letters that match ASCII ones, joined by spaces, colons and line feeds.
WORDS = sorted({text for rule in BUILTIN_RULES for clause in rule.needles for text in clause}
               | {"failed to solve: ", 'process "/bin/sh -c make"', "exit code: ", "137", "503", "429", "401",
                  "buildkitd.sock", "[internal] ", "stage-1", "ERROR: ", "\u212A", "\u017F", "\u0130", "\u00e9"})
piece = st.one_of(st.sampled_from(WORDS), st.sampled_from(WORDS).map(str.upper),
                  st.text(alphabet="abcdefgiklnorstuvxyz0123456789 :/-\"[]\n", max_size=6))
texts = st.lists(st.tuples(st.sampled_from(["", " ", ": ", "\n"]), piece), max_size=12).map(
    lambda parts: "".join(sep + text for sep, text in parts))


@settings(deadline=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, scope=st.sampled_from(SCOPES), style=st.sampled_from([None, *STYLES]))
def test_texts_of_the_rules_own_words(text: str, scope: str, style: str | None) -> None:
    same_as_plain(text, scope, style)
    if "\n" in text:  # a hard-wrapped final message: both forms
        same_as_plain(text, scope, style, also=text.replace("\n", ""))


def alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a pattern (split at the "|" outside groups, classes and escapes)."""
    out, depth, in_class, escaped, start = [], 0, False, False, 0
    for i, ch in enumerate(pattern):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]" or pattern[i - 1] == "["
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
    return [*out, pattern[start:]]


def test_alternatives_split_at_the_top_level_only() -> None:
    assert alternatives(r"a(?:b|c)|[|]d|e\|f") == ["a(?:b|c)", "[|]d", "e\\|f"]


# Each alternative of each built-in rule, as hypothesis makes texts it matches (in any case, with any letter the
# pattern's case-insensitive letters stand for), alone and after or before other words.
ALTERNATIVES = [(rule.name, alt) for rule in BUILTIN_RULES if isinstance(rule.source, str)
                for alt in alternatives(rule.source)]


@pytest.mark.parametrize(("name", "alternative"), ALTERNATIVES)
@settings(deadline=None, max_examples=12, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_texts_each_alternative_matches(name: str, alternative: str, data: st.DataObject) -> None:
    text = data.draw(st.from_regex(re.compile(alternative, re.IGNORECASE | re.DOTALL), fullmatch=True))
    around = data.draw(st.sampled_from(["", "failed to solve: ", "x", "\n"]))
    for form in (text, around + text, text + around):
        for scope in SCOPES:
            same_as_plain(form, scope)
        for style in STYLES:
            same_as_plain(form, "final", style)
