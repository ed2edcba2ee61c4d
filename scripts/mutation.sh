#!/usr/bin/env bash
# Mutation testing of the verdict modules: each module is mutated by mutmut (one small change at a time) and the
# fast tests that cover it are run against every mutant; a mutant that no test notices "survives".
#
#   scripts/mutation.sh [MODULE ...]      MODULE: rules summary run cleaning (the default: all four)
#
# Prints, per module, the mutants killed / total, the score, and every survivor (`mutmut show NAME` in the work
# directory prints its diff). Not part of CI: a full run takes tens of minutes on 2 cores. Survivors that are
# equivalent mutants (no test can tell them apart) are listed with the reason in docs/testing.md.
#
# Runs in a temporary copy of the working tree (the files git knows, as they are now), so the checkout is left
# alone; the copy is kept for inspection and its path printed. The configuration names files and tests only,
# never line numbers, so it survives edits of the modules. Needs mutmut (`pip install -e '.[mutation]'`).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python3 -c 'import mutmut' 2>/dev/null || { echo "mutmut is not installed: pip install -e '.[mutation]'" >&2; exit 2; }

# The fast tests that exercise each module in-process: mutmut maps each mutant to the tests that reach its
# function, and a test that starts `python -m buildlog` (tests/test_cli_summary.py) is seen by no mapping and
# slow, so it is left out. run.py's decisions are tested in-process by tests/test_run_logic.py (the build commands
# are processes, buildlog is not); test_run.py's process tests check the command line and add no mapping.
declare -A TESTS=(
    [rules]="tests/test_rules.py tests/test_rules_file.py tests/test_summary_verdict_paths.py tests/test_rules_untrusted.py tests/test_redact.py tests/test_verdicts.py tests/test_traps.py tests/test_summary_labels.py tests/test_live_labels.py"
    [summary]="tests/test_verdicts.py tests/test_summary_fold.py tests/test_summary_verdict_paths.py tests/test_summary_facts.py tests/test_summary_incomplete.py tests/test_traps.py tests/test_summary_labels.py tests/test_live_labels.py tests/test_summary_details.py tests/test_rules.py tests/test_legacy_errors.py tests/test_excerpts.py tests/test_ci_logs.py tests/test_tty_docker20.py tests/test_summary_fleet.py tests/test_rules_untrusted.py"
    [run]="tests/test_run_logic.py tests/test_run.py"
    [cleaning]="tests/test_cleaning.py tests/test_excerpts.py tests/test_formats_detection.py tests/test_ci_logs.py tests/test_expected_events.py tests/test_plain_grammar.py"
)
# Process tests whose run is long and whose coverage mutmut cannot see anyway.
DESELECT=(--deselect tests/test_run.py::test_100_mb_of_output_passes_through_unchanged
          --deselect tests/test_excerpts.py::test_classify_exit_codes)

modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=(rules summary run cleaning)
work="$(mktemp -d /tmp/buildlog-mutation.XXXXXX)"
echo "work directory: $work"
total_killed=0
total_all=0
for module in "${modules[@]}"; do
    tests="${TESTS[$module]:-}"
    [ -n "$tests" ] || { echo "unknown module: $module (one of: ${!TESTS[*]})" >&2; exit 2; }
    dir="$work/$module"
    mkdir -p "$dir"
    (cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -c -f - 2>/dev/null) \
        | tar -x -C "$dir"
    {
        echo
        echo "[tool.mutmut]"
        echo "source_paths = [\"buildlog\"]"
        echo "also_copy = [\"docs\", \"samples\"]"
        echo "only_mutate = [\"buildlog/$module.py\"]"
        printf 'pytest_add_cli_args_test_selection = ['
        sep=""
        for t in $tests; do printf '%s"%s"' "$sep" "$t"; sep=", "; done
        for d in "${DESELECT[@]}"; do printf '%s"%s"' "$sep" "$d"; sep=", "; done
        echo "]"
        echo "pytest_add_cli_args = [\"-q\", \"-p\", \"no:cacheprovider\", \"-m\", \"not integration\"]"
    } >> "$dir/pyproject.toml"
    echo "== $module: mutating buildlog/$module.py, tests: $tests"
    (cd "$dir" && python3 -m mutmut run --max-children "${MUTATION_JOBS:-2}" > "$dir/mutmut-run.log" 2>&1) || {
        echo "mutmut failed for $module; see $dir/mutmut-run.log" >&2; tail -20 "$dir/mutmut-run.log" >&2; exit 1; }
    (cd "$dir" && python3 -m mutmut results --all true > "$dir/results.txt" 2>&1) || true
    read -r killed all < <(python3 - "$dir/results.txt" <<'PY'
import sys
killed = total = 0
for line in open(sys.argv[1]):
    name, sep, status = line.strip().rpartition(": ")
    if not sep:
        continue
    total += 1
    killed += status in ("killed", "timeout", "segfault", "caught by type check")
print(killed, total)
PY
)
    total_killed=$((total_killed + killed))
    total_all=$((total_all + all))
    python3 -c "import sys; k,a=int(sys.argv[1]),int(sys.argv[2]); print(f'{sys.argv[3]}: {k}/{a} killed ({100*k/max(a,1):.1f} %)')" \
        "$killed" "$all" "$module"
    echo "survivors:"
    grep -v -E ': (killed|timeout|segfault|caught by type check)$' "$dir/results.txt" | sed 's/^/  /' || true
done
python3 -c "import sys; k,a=int(sys.argv[1]),int(sys.argv[2]); print(f'total: {k}/{a} killed ({100*k/max(a,1):.1f} %)')" \
    "$total_killed" "$total_all"
