"""A rules file read in the test's own process: every mistake is one line naming the file, the table and the
mistake (docs/taxonomy.md, docs/security.md), and a good file gives the rules and secret patterns it says, with the
documented defaults. tests/test_rules_untrusted.py checks the same files through the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixturelib import SHARED
from test_rules_untrusted import BAD_FILES

from buildlog import summarize_bytes
from buildlog.rules import (
    BUILTIN_RULES,
    USER_RULE_TIMEOUT,
    RulesError,
    load_rules,
    rules_from_toml,
    user_rules_from_toml,
)

SOURCE = "my-rules.toml"
S04 = SHARED / "s04-fail-exit1-plain.log"

# More mistakes, one per check of a table (what the one line must say besides the file's name).
MORE_BAD_FILES = [
    ('redact = "x"', ["expected [[redact]] tables"]),
    ("rule = [1]", ["rule 1: expected a table"]),
    ("redact = [1]", ["redact 1: expected a table"]),
    ('[[rule]]\npattern = "x"', ["rule 1", "missing key 'class'"]),
    ('[[rule]]\nname = 3\npattern = "x"\nclass = "network"', ["rule 1:", "name must be a string"]),
    ('[[rule]]\npattern = "x"\nclass = 3', ["rule 1", "class must be a string"]),
    ('[[rule]]\npattern = "x"\nclass = "network"\nreason = 3', ["rule 1", "reason must be a string"]),
    ('[[rule]]\npattern = "x"\nclass = "network"\nscope = 3', ["rule 1", "scope must be a string"]),
    ('[[rule]]\npattern = "x"\nclass = "network"\nscope = "everywhere"',
     ["scope must be one of final, step-output, vertex", "not 'everywhere'"]),
    ('[[rule]]\npattern = "x"\nclass = "network"\nreason = "{0}"', ["reason may use only"]),
    ('[[rule]]\npattern = "x"\nclass = "network"\nreason = "{"', ["reason may use only"]),
    ('[[redact]]\nname = "acme"', ["redact 1 ('acme')", "missing key 'pattern'"]),
    ('[[redact]]\nname = 3\npattern = "x"', ["redact 1:", "name must be a string"]),
    ('[[redact]]\npattern = 3', ["redact 1", "pattern must be a string"]),
    ('[[redact]]\npattern = "x"\ntrigger = 3', ["redact 1", "trigger must be a string"]),
    ('[[redact]]\npattern = "x"\nkeep = 17', ["redact 1", "keep must be a whole number from 0 to 16"]),
    ('[[redact]]\npattern = "x"\nkeep = true', ["redact 1", "keep must be a whole number from 0 to 16"]),
    ('[[redact]]\npattern = "x"\nkeep = 1.5', ["redact 1", "keep must be a whole number from 0 to 16"]),
    ('[[redact]]\npattern = "a{2,1}"', ["redact 1", "bad pattern"]),
    ('[[redact]]\npattern = "x"\n[[redact]]\nname = "second"\npattern = "x"\nkeep = -1',
     ["redact 2 ('second')", "keep must be"]),
]


@pytest.mark.parametrize(("content", "says"), BAD_FILES + MORE_BAD_FILES)
def test_a_mistake_is_one_line_naming_the_file_and_the_table(content: str, says: list[str]) -> None:
    with pytest.raises(RulesError) as caught:
        user_rules_from_toml(content, SOURCE)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{SOURCE}: "), message
    for word in says:
        assert word in message, (word, message)


def test_unknown_keys_are_named_with_the_known_ones() -> None:
    with pytest.raises(RulesError) as one:
        user_rules_from_toml('[[rule]]\npattern = "x"\nclass = "network"\nretryabel = true', SOURCE)
    assert str(one.value) == (f"{SOURCE}: rule 1: unknown key 'retryabel' "
                              "(known: class, name, pattern, reason, retryable, scope)")
    with pytest.raises(RulesError) as two:
        user_rules_from_toml('[[redact]]\npattern = "x"\nreplacement = "y"\nkep = 1', SOURCE)
    assert str(two.value) == (f"{SOURCE}: redact 1: unknown keys 'kep', 'replacement' "
                              "(known: keep, name, pattern, trigger)")
    with pytest.raises(RulesError) as top:
        user_rules_from_toml('[[rules]]\npattern = "x"', SOURCE)
    assert str(top.value) == f"{SOURCE}: unknown table or key 'rules' (known: redact, rule)"


def test_a_bad_pattern_says_why_on_one_line() -> None:
    with pytest.raises(RulesError) as caught:
        user_rules_from_toml('[[rule]]\nname = "paren"\npattern = "("\nclass = "network"', SOURCE)
    message = str(caught.value)
    assert message.startswith(f"{SOURCE}: rule 1 ('paren'): bad pattern: ") and "\n" not in message
    assert len(message) > len(f"{SOURCE}: rule 1 ('paren'): bad pattern: ")  # the regex module's own reason


def test_the_documented_defaults_of_a_rule() -> None:
    """docs/taxonomy.md: only pattern and class are required; an unnamed rule is user-N, not retryable, of scope
    final, with the reason "matched the user rule NAME"; matched case-insensitively, "." across line ends, with the
    user-pattern timeout."""
    rules = rules_from_toml('[[rule]]\nname = "first"\npattern = "a"\nclass = "network"\n'
                            '[[rule]]\npattern = "520 origin.error"\nclass = "registry-unavailable"', SOURCE)
    assert [r.name for r in rules] == ["first", "user-2"]
    rule = rules[1]
    assert (rule.failure_class, rule.retryable, rule.scope, rule.reason) == (
        "registry-unavailable", False, "final", "matched the user rule user-2")
    assert rule.timeout == USER_RULE_TIMEOUT == 0.25
    assert rule.pattern.search("upstream said 520 ORIGIN\nERROR") is not None


def test_a_rule_with_every_key() -> None:
    (rule,) = rules_from_toml('[[rule]]\nname = "artifactory-520"\npattern = "520 Origin Error"\n'
                              'class = "registry-unavailable"\nretryable = true\nscope = "step-output"\n'
                              'reason = "Artifactory said {match}; exit {exit_code}"', SOURCE)
    assert (rule.name, rule.failure_class, rule.retryable, rule.scope) == (
        "artifactory-520", "registry-unavailable", True, "step-output")
    assert rule.reason.format(match="520 Origin Error", exit_code=1) == "Artifactory said 520 Origin Error; exit 1"


def test_the_documented_defaults_of_a_secret_pattern() -> None:
    """docs/security.md: only pattern is required; an unnamed table is user-secret-N; no 'secret' group: the
    whole match is the secret; keep leaves that many characters of a secret more than twice as long."""
    _rules, secrets = user_rules_from_toml(
        '[[redact]]\nname = "acme-token"\npattern = "acme_(?P<secret>[a-z]{8})"\nkeep = 2\ntrigger = "ACME_"\n'
        '[[redact]]\npattern = "zz[0-9]{4}"', SOURCE)
    assert [(s.name, s.keep, s.triggers, s.user) for s in secrets] == [
        ("acme-token", 2, ("ACME_",), True), ("user-secret-2", 0, (), True)]
    redactor = load_rules([]).with_rules([], secrets).redactor
    assert redactor.text("key acme_abcdefgh end") == "key acme_ab…[redacted acme-token] end"
    assert redactor.text("id zz1234 end") == "id …[redacted user-secret-2] end"
    # the trigger is looked for in any case, and a text without it is left alone
    assert redactor.text("KEY ACME_abcdefgh") == "KEY ACME_abcdefgh"  # the pattern itself is case-sensitive
    # (a pattern without a trigger is tried on every text; the one with a trigger only where it is)
    assert redactor.might_hold_secret("acme")
    only_acme = load_rules([]).with_rules([], secrets[:1]).redactor
    assert only_acme.might_hold_secret("Acme_x") and not only_acme.might_hold_secret("acme x")


@pytest.mark.parametrize("keep", [0, 16])
def test_keep_takes_its_bounds(keep: int) -> None:
    (secret,) = user_rules_from_toml(f'[[redact]]\npattern = "x"\nkeep = {keep}', SOURCE)[1]
    assert secret.keep == keep


def test_user_rules_come_first_and_decide(tmp_path: Path) -> None:
    """A file's rules go in front of the built-in table, in file order; a user rule that matches s04's final
    message (L116, "... did not complete successfully: exit code: 1") decides its class and retry verdict."""
    first = tmp_path / "first.toml"
    first.write_text('[[rule]]\nname = "ours"\npattern = "did not complete successfully"\nclass = "network"\n'
                     'retryable = true\nreason = "exit {exit_code}"')
    second = tmp_path / "second.toml"
    second.write_text('[[rule]]\nname = "theirs"\npattern = "exit code"\nclass = "timeout"')
    ruleset = load_rules([first, second])
    assert [r.name for r in ruleset.rules[:2]] == ["ours", "theirs"]
    assert ruleset.rules[2:] == BUILTIN_RULES
    summary = summarize_bytes(S04.read_bytes(), ruleset)
    assert summary.last is not None and summary.last.failure is not None
    failure = summary.last.failure
    assert (failure.rule, failure.failure_class, failure.retryable, failure.reason) == (
        "ours", "network", True, "exit 1")


def test_an_empty_file_adds_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    assert load_rules([empty]).rules == BUILTIN_RULES
    assert user_rules_from_toml("", SOURCE) == ([], [])


def test_a_bad_patterns_reason_is_the_regex_modules_on_one_line() -> None:
    import regex

    with pytest.raises(regex.error) as why:
        regex.compile("a{2,1}")
    with pytest.raises(RulesError) as caught:
        user_rules_from_toml('[[rule]]\npattern = "a{2,1}"\nclass = "network"', SOURCE)
    assert str(caught.value) == f"{SOURCE}: rule 1: bad pattern: {' '.join(str(why.value).split())}"


def test_a_file_that_cannot_be_read_says_why(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(RulesError) as caught:
        load_rules([missing])
    assert str(caught.value) == f"{missing}: cannot read: No such file or directory"


def test_the_secret_patterns_of_every_file_are_kept(tmp_path: Path) -> None:
    files = []
    for name in ("one", "two"):
        path = tmp_path / f"{name}.toml"
        path.write_text(f'[[redact]]\nname = "{name}"\npattern = "{name}_[0-9]{{6}}"')
        files.append(path)
    ruleset = load_rules(files)
    assert [s.name for s in ruleset.secrets] == ["one", "two"]
    assert ruleset.redactor.text("a one_123456 b two_654321") == "a …[redacted one] b …[redacted two]"


@pytest.mark.parametrize(("reason", "why"), [
    ("code {exit_code:d}", "unsupported format string passed to NoneType.__format__"),  # fine with 1, not with none
    ("{match:d}", "Unknown format code 'd' for object of type 'str'"),
    ("{verdict}", "'verdict'"),
    ("{0}", "Replacement index 0 out of range for positional args tuple"),
    ("{", "Single '{' encountered in format string"),
    ("{match[0]}", "string index out of range"),  # a pattern can match an empty text
])
def test_a_reason_the_summary_could_not_fill_in_is_a_mistake(reason: str, why: str) -> None:
    """Every reason is filled in with the matched text and an exit code, or none (a log that does not say it):
    one that cannot be, in either case, is refused when the file is read, not a traceback later. The words after
    the rule are Python's own."""
    with pytest.raises(RulesError) as caught:
        user_rules_from_toml(f'[[rule]]\npattern = "x"\nclass = "network"\nreason = "{reason}"', SOURCE)
    assert str(caught.value) == f"{SOURCE}: rule 1: reason may use only {{match}} and {{exit_code}} ({why})"


def test_a_reason_may_format_the_match() -> None:
    (rule,) = rules_from_toml('[[rule]]\npattern = "x"\nclass = "network"\nreason = "[{match:>4}] {exit_code}"')
    assert rule.reason.format(match="x", exit_code=None) == "[   x] None"


def test_more_mistakes_say_why_in_the_words_of_the_library_that_found_them() -> None:
    import regex

    tomllib = pytest.importorskip("tomllib")

    with pytest.raises(tomllib.TOMLDecodeError) as toml_why:
        tomllib.loads("not toml [")
    with pytest.raises(RulesError) as caught:
        user_rules_from_toml("not toml [", SOURCE)
    assert str(caught.value) == f"{SOURCE}: not valid TOML: {' '.join(str(toml_why.value).split())}"
    with pytest.raises(regex.error) as regex_why:
        regex.compile("acme_[a-z")
    with pytest.raises(RulesError) as caught:
        user_rules_from_toml('[[redact]]\nname = "acme"\npattern = "acme_[a-z"', SOURCE)
    assert str(caught.value) == f"{SOURCE}: redact 1 ('acme'): bad pattern: {' '.join(str(regex_why.value).split())}"


def test_a_pattern_that_breaks_once_it_is_the_secret() -> None:
    """A pattern without a 'secret' group is wrapped in one (the whole match is the secret), which renumbers its
    groups: "(a)\\1" compiles alone, and its back-reference then points at the open wrapper."""
    import regex

    assert regex.compile(r"(a)\1") is not None
    with pytest.raises(regex.error) as why:
        regex.compile(r"(?P<secret>(a)\1)")
    with pytest.raises(RulesError) as caught:
        user_rules_from_toml('[[redact]]\npattern = "(a)\\\\1"', SOURCE)
    assert str(caught.value) == f"{SOURCE}: redact 1: bad pattern: {' '.join(str(why.value).split())}"


def test_the_match_in_a_reason_is_its_first_120_characters() -> None:
    """docs/taxonomy.md: {match} is the matched text, its first 120 characters. s14's final message (its last line,
    "ERROR: failed to build: failed to solve: failed to push ...") is longer than that."""
    from buildlog import DEFAULT_RULES

    log = SHARED / "s14-auth-no-credentials-plain.log"
    final = log.read_bytes().rstrip(b"\n").split(b"\n")[-1].decode()
    matched = final.removeprefix("ERROR: ")
    assert len(matched) > 120 and '"' not in matched  # no quoted command, which would be blanked first
    mine = rules_from_toml('[[rule]]\nname = "whole"\npattern = "failed to build: .*"\nclass = "auth"\n'
                           'reason = "{match}"')
    s = summarize_bytes(log.read_bytes(), DEFAULT_RULES.with_rules(mine))
    assert s.failure is not None and s.failure.rule == "whole"
    assert s.failure.reason == matched[:120]
