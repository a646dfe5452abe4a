import re
import shutil
import subprocess

import pytest
from ax.exceptions.core import UserInputError
from plotly.offline import get_plotlyjs

from ax_ext.cli import FAST_ACQF, FAST_FIT, main
from ax_ext.runner import get_problem
from ax_ext.runner._recording import record_result
from ax_ext.runner.report import REPORT_SECTIONS, write_report
from ax_ext.runner.study import _create_or_resume
from tests.runner._curves_problem import synthetic_with_curves

CHART_IDS = (
    "chart-history",
    "chart-sensitivity",
    "chart-importance",
    "chart-slice-0",
    "chart-slice-1",
    "chart-slice-2",
    "chart-contour",
    "chart-predicted-vs-observed",
    "chart-fitting-trajectories",
    "chart-axis-plots",
    "chart-isolation-plot",
    "chart-training-curves",
)
HOSTILE_REASON = "<script>alert('x')</script> & more"


def _make_study(path, trials, num_sobol_trials, fail_index=None, curves=True):
    """A synthetic study run in this process (no Dask): Sobol trials, then BO.

    With ``curves``, every evaluation also returns fake training curves, recorded
    as ``ax-ext tune`` records them.
    """
    problem = get_problem("synthetic")
    client = _create_or_resume(
        problem, path, seed=0, num_sobol_trials=num_sobol_trials, optimizer_kwargs=FAST_ACQF
    )
    for _ in range(trials):
        ((index, params),) = client.get_next_trials(max_trials=1).items()
        if index == fail_index:
            client.mark_trial_failed(index, failed_reason=HOSTILE_REASON)
        else:
            evaluate = synthetic_with_curves if curves else problem.evaluate
            record_result(client, problem, index, evaluate(params, 0))
    return client


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """7 trials: 4 Sobol (one failed, so Sobol ran 5) then 2 BO; and the report."""
    folder = tmp_path_factory.mktemp("report")
    storage = folder / "study.db"
    client = _make_study(storage, trials=7, num_sobol_trials=4, fail_index=1)
    out = write_report(storage, folder / "report.html", fit_kwargs=FAST_FIT)
    return client, storage, out


def test_report_has_every_section_chart_and_plotlyjs_once(study):
    client, _, out = study
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for section in REPORT_SECTIONS:
        assert f'<section id="{section}">' in page
    for chart in CHART_IDS:
        assert f'id="{chart}"' in page
        assert f'document.getElementById("{chart}")' in page
    # plotly.js embedded exactly once, nothing loaded from a CDN
    assert page.count(get_plotlyjs()[:300]) == 1
    assert len(re.findall(r"\* plotly\.js v\d", page)) == 1
    rest = page.replace(get_plotlyjs(), "")
    assert "<script src=" not in rest and "cdn.plot.ly" not in rest
    assert page.count("Plotly.newPlot(") == len(CHART_IDS)


def test_report_contents_match_the_study(study):
    client, _, out = study
    page = out.read_text(encoding="utf-8")
    experiment = client._experiment
    nodes = [t.generator_runs[0]._generation_node_name for t in experiment.trials.values()]
    assert nodes == ["Sobol"] * 5 + ["BO"] * 2
    df = experiment.lookup_data().df
    losses = dict(zip(df["trial_index"], df["mean"]))
    best = min(losses, key=losses.get)
    assert f'<strong id="best-index">{best}</strong>' in page
    assert f'<strong id="best-value">{losses[best]:.6g}</strong>' in page
    # the model expression of the full fit, named after the encoded features
    assert 'id="model-expression"' in page and "kernel=rbf" in page
    # strategy: Sobol count (one failed) and the switch to BO
    assert '<p id="sobol-count">5 Sobol trials ran (1 of them failed or abandoned).</p>' in page
    assert "switched to BO at trial 5, after 5 Sobol trials" in page
    assert "<code>BO</code>" in page
    # the trial table: one row per trial, failed ones marked, user text escaped
    table = page.split('id="trial-table"')[1].split("</table>")[0]
    assert table.count("<tr") == 1 + len(experiment.trials)
    assert table.count('<tr class="failed">') == 1
    assert HOSTILE_REASON not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in table  # Jinja2's escape
    # when each trial ran and for how long: Sobol trials here take well under a minute
    assert "<th>started</th><th>ended</th><th>seconds</th>" in table
    completed_row = table.split(f"<td>{best}</td><td>COMPLETED</td>")[1].split("</tr>")[0]
    started, ended, seconds = re.findall(r"<td>([^<]*)</td>", completed_row)[1:4]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", started) and ended >= started
    assert 0 <= float(seconds) < 60
    assert 'id="trial-filter"' in page  # the table can be filtered (and sorted by heading)
    # findings first, then diagnostics; a plain reading above each section's charts
    order = [page.index(f'<section id="{s}">') for s in REPORT_SECTIONS]
    assert order == sorted(order)
    assert page.index("Diagnostics: the model and the run") < page.index('<section id="model">')
    history = page.split('<section id="history">')[1].split("</section>")[0]
    assert '<p class="reading">BO began at trial 5' in history
    assert history.count('<p class="reading">') == 1
    assert all(f"<td>{i}</td>" in table for i in experiment.trials)
    # training curves: one line per completed trial in each of the 3 subplots, best on top
    curves = page.split('<section id="training-curves">')[1].split("</section>")[0]
    assert f"trial {best}, the best of these, is highlighted" in curves
    assert curves.count('"legendgroup":"trials"') == 3 * 5
    assert curves.count('"legendgroup":"best"') == 3
    assert f'"name":"trial {best} (best)"' in curves
    assert "epoch" in curves and "val_accuracy" in curves
    # importance: Ax's sensitivity of the fitted model, the lengthscales beside it
    importance = page.split('<section id="importance">')[1].split("</section>")[0]
    reading = re.search(r'<p class="reading">([^<]*)</p>', importance).group(1)
    top = reading.split("By Ax&#39;s sensitivity analysis of the fitted model, ")[1].split()[0]
    assert top in experiment.search_space.parameters
    assert importance.index('id="chart-sensitivity"') < importance.index('id="chart-importance"')
    assert "Lengthscales: how far the data moved" in importance
    # surfaces: Ax's slice plots of the top parameters and the contour of the top pair
    surfaces = page.split('<section id="surfaces">')[1].split("</section>")[0]
    assert "the others held at the center of the search space" in surfaces
    assert surfaces.count("Plotly.newPlot(") == 4


def test_report_of_a_study_with_too_few_trials_says_so(tmp_path):
    storage = tmp_path / "small.db"
    _make_study(storage, trials=1, num_sobol_trials=4, curves=False)
    page = write_report(storage, tmp_path / "small.html").read_text(encoding="utf-8")
    for section in REPORT_SECTIONS:
        assert f'<section id="{section}">' in page
    assert "Needs at least 2 completed trials" in page
    assert "No training curves: no completed trial stored any" in page
    assert 'id="chart-training-curves"' not in page
    assert 'id="chart-axis-plots"' in page and 'id="chart-predicted-vs-observed"' not in page
    assert "has not switched to BO yet" in page
    assert page.count(get_plotlyjs()[:300]) == 1


def test_report_bad_inputs(study, tmp_path):
    _, storage, _ = study
    with pytest.raises(UserInputError, match=r"existing study database.*does not exist"):
        write_report(tmp_path / "missing.db", tmp_path / "r.html")
    with pytest.raises(UserInputError, match="report's folder to exist"):
        write_report(storage, tmp_path / "no" / "r.html")
    with pytest.raises(UserInputError, match=r"isolation_parameter to be one of.*'nope'"):
        write_report(storage, tmp_path / "r.html", isolation_parameter="nope")
    with pytest.raises(UserInputError, match=r"experiment_name to be one of"):
        write_report(storage, tmp_path / "r.html", experiment_name="ax_ext:other")


def test_cli_report(study, tmp_path, capsys):
    _, storage, _ = study
    out = tmp_path / "cli.html"
    args = ["report", str(storage), "--out", str(out), "--fast-fit", "--isolate", "optimizer"]
    assert main(args) == 0
    assert "Wrote the report" in capsys.readouterr().out
    assert 'id="chart-isolation-plot"' in out.read_text(encoding="utf-8")
    assert main(["report", str(tmp_path / "missing.db"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ax-ext report: error: Expected an existing study database")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(
    _chromium() is None,
    reason="no headless Chromium found (chromium, chromium-browser or google-chrome on "
    "PATH); on Debian/Ubuntu install it with `apt-get install -y chromium`",
)
def test_report_opens_in_headless_chromium_without_console_errors(study, tmp_path):
    _, _, out = study
    browser = _chromium()
    flags = ["--headless", "--disable-gpu", "--no-sandbox", "--enable-logging=stderr", "--v=0"]
    url = out.resolve().as_uri()
    shot = tmp_path / "report.png"
    run = subprocess.run(
        [browser, *flags, f"--screenshot={shot}", "--window-size=1280,3000", url],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert shot.exists() and shot.stat().st_size > 10_000
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    errors = [line for line in console if re.search(r"uncaught|error", line, re.IGNORECASE)]
    assert not errors, "\n".join(errors)
    # the charts were drawn: plotly replaced every chart div's contents with SVG
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=180
    )
    assert dom.returncode == 0, dom.stderr[-3000:]
    for chart in CHART_IDS:
        drawn = dom.stdout.split(f'id="{chart}"')[1].split('class="chart"')[0]
        assert "main-svg" in drawn, chart
    assert not [
        line
        for line in dom.stderr.splitlines()
        if ":CONSOLE" in line and re.search(r"uncaught|error", line, re.IGNORECASE)
    ]


def test_report_hides_a_storage_urls_password():
    from ax_ext.runner.report import _display_storage

    assert _display_storage("postgresql://bob:secret@host/db") == "postgresql://bob:***@host/db"
    assert _display_storage("/tmp/study.db") == "/tmp/study.db"


def test_the_report_fits_the_full_model_once(study, tmp_path, monkeypatch):
    # the model expression and the importance chart use the cross-validation's full fit
    from ax_ext.runner import _report_model

    def second_fit(*args, **kwargs):
        raise AssertionError("the report fitted the full model a second time")

    monkeypatch.setattr(_report_model, "_fit_full_model", second_fit)
    _, storage, _ = study
    page = write_report(storage, tmp_path / "once.html", fit_kwargs=FAST_FIT).read_text()
    assert 'id="model-expression"' in page and 'id="chart-importance"' in page
