"""What a Binder launch does, reproduced without Docker (repo2docker, config in ``binder/``).

repo2docker, for this repository: stages the repo, runs ``pip install -r binder/requirements.txt`` from the repo
root (``-e .[lab]`` installs the project itself), runs ``binder/postBuild`` once at build time (as the user, with
``HOME`` = the image's home), then at every launch runs ``binder/start`` with the server command as its arguments.

- ``test_binder_files``: the static rules (requirements install the project, postBuild has a shebang and
  ``set -e``, start ends with ``exec "$@"``, both executable, no second config location).
- ``test_binder_launch_in_current_env`` (the default, ~1.5 min, ~75 s of it the notebooks): in a staged copy of the
  repository, runs ``binder/postBuild`` with the CURRENT venv and ``HOME`` pointed to a temporary directory, checks a
  fresh kernel auto-loads ``aep_magics`` (and did not before), then -- through ``binder/start`` itself, like a
  launch -- executes every tutorial notebook in order, all sharing the AEP Local data dir postBuild prepared, and
  asserts no error output and nothing on stderr.
- ``test_binder_requirements_resolve_without_an_index`` (the default, a few seconds): what
  ``binder/requirements.txt`` installs (the project's dependencies with the extras it names, from
  ``pyproject.toml``) resolves with ``pip install --dry-run --no-index`` against the current venv -- the one the
  launch test above runs the notebooks in -- and leaves nothing to install: Binder gets no package that was not
  tested.
- ``test_binder_build_in_fresh_venv`` (``-m slow``, ~4 min): the same, in a brand-new venv (no system site
  packages) into which ``pip install -r binder/requirements.txt`` installs a staged copy of the repository (pip's
  cache and the configured indexes are used as they are).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"

# Run by the environment's own interpreter (the current venv, or the fresh one), under binder/start:
# executes the notebooks with nbclient, one after the other, and reports what it saw as JSON on stdout.
RUNNER = r'''
import json, os, sys
import nbformat
from nbclient import NotebookClient

report = {"env": {k: v for k, v in os.environ.items() if k.startswith(("AEP_", "HOME", "IPYTHONDIR"))},
          "probe": None, "notebooks": []}
probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    "import json, sys\nip = get_ipython()\n"
    "print(json.dumps({'loaded': sorted(ip.extension_manager.loaded), 'prefix': sys.prefix,"
    " 'profile_dir': ip.profile_dir.location, 'magics': sorted(ip.magics_manager.magics['line'])}))")])
NotebookClient(probe, timeout=120, kernel_name="python3").execute()
report["probe"] = json.loads("".join(o.get("text", "") for o in probe.cells[0].outputs
                                    if o.get("output_type") == "stream" and o.get("name") == "stdout"))
if sys.argv[1] == "probe":
    print("@@REPORT@@" + json.dumps(report))
    sys.exit(0)
for path in sys.argv[2:]:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": os.path.dirname(path)}})
    failure = None
    try:
        client.execute()
    except Exception as exc:
        failure = f"{type(exc).__name__}: {exc}"
    problems = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                problems.append({"cell": i, "source": cell.source[:200], "error": out.get("ename"),
                                 "value": out.get("evalue"), "traceback": "\n".join(out.get("traceback", []))[-2000:]})
            elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                problems.append({"cell": i, "source": cell.source[:200], "stderr": out.get("text", "")[:2000]})
    counts = [c.get("execution_count") for c in nb.cells if c.cell_type == "code"]
    report["notebooks"].append({"path": path, "failure": failure, "problems": problems, "counts": counts})
print("@@REPORT@@" + json.dumps(report))
'''


def _requirements() -> list[str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]


def _base_env(home: Path, bin_dir: Path) -> dict[str, str]:
    """The environment of a Binder user: its HOME, its env's bin first on PATH, none of our AEP_*/IPython/Jupyter
    settings."""
    drop = ("AEP_", "JUPYTER", "IPYTHONDIR", "SHOPIFY_ACCESS_TOKEN", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["HOME"] = str(home)
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run(cmd: list[str], *, env: dict[str, str], cwd: Path, timeout: int) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{cmd} exited {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


def _report(result: subprocess.CompletedProcess) -> dict:
    for line in result.stdout.splitlines():
        if line.startswith("@@REPORT@@"):
            return json.loads(line[len("@@REPORT@@"):])
    raise AssertionError(f"no report from the runner\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")


def _start_env(repo: Path, env: dict[str, str]) -> dict[str, str]:
    """The environment ``binder/start`` hands to the command it execs (``binder/start env -0``)."""
    out = subprocess.run([str(repo / "binder" / "start"), "env", "-0"], cwd=repo, env=env, capture_output=True,
                         timeout=30, check=True).stdout.decode()
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def _launch(repo: Path, python: Path, home: Path, tmp: Path) -> None:
    """postBuild, the autoload check, then the notebooks executed through binder/start."""
    env = _base_env(home, python.parent)
    runner = tmp / "binder_runner.py"
    runner.write_text(RUNNER)

    # Before postBuild, a fresh kernel does not load the extension (the check below is not vacuous).
    before = _report(_run([str(python), str(runner), "probe"], env=env, cwd=repo, timeout=180))
    assert "aep_magics" not in before["probe"]["loaded"], before["probe"]

    # Build time: postBuild, with HOME = the temporary home.
    build = _run([str(repo / "binder" / "postBuild")], env=env, cwd=repo, timeout=300)
    profile = home / ".ipython" / "profile_default" / "ipython_kernel_config.py"
    assert profile.exists(), f"postBuild wrote no kernel config under {home}\n{build.stdout}\n{build.stderr}"
    assert "aep_magics" in profile.read_text()

    # Launch time: what binder/start exports.
    start_env = _start_env(repo, env)
    assert start_env["HOME"] == str(home)
    assert start_env.get("AEP_LOCAL_SEED") == "42", start_env.get("AEP_LOCAL_SEED")
    data_dir = Path(start_env["AEP_LOCAL_DATA"])
    assert data_dir.is_relative_to(home), data_dir
    assert data_dir.is_dir() and any(data_dir.iterdir()), f"postBuild did not prepare AEP Local's data in {data_dir}"

    # Through binder/start, like a launch: a fresh kernel (it must load the extension by itself, from the profile
    # postBuild wrote), then the tutorials, in order, as a learner would run them (one shared AEP Local data dir).
    notebooks = sorted(p.relative_to(repo) for p in (repo / "notebooks").rglob("*.ipynb")
                       if ".ipynb_checkpoints" not in p.parts)
    assert len(notebooks) >= 5, notebooks
    result = _run([str(repo / "binder" / "start"), str(python), str(runner), "notebooks",
                   *[str(p) for p in notebooks]], env=env, cwd=repo, timeout=900)
    report = _report(result)
    probe = report["probe"]
    assert "aep_magics" in probe["loaded"], probe
    assert {"aep_auth", "aep_runs"} <= set(probe["magics"]), probe["magics"]
    assert Path(probe["profile_dir"]).is_relative_to(home), probe["profile_dir"]
    assert Path(probe["prefix"]).resolve() == python.parent.parent.resolve(), probe["prefix"]  # the env's own kernel

    assert report["env"].get("AEP_LOCAL_DATA") == str(data_dir)
    assert [nb["path"] for nb in report["notebooks"]] == [str(p) for p in notebooks]
    failed = {nb["path"]: nb["failure"] or nb["problems"] for nb in report["notebooks"]
              if nb["failure"] or nb["problems"]}
    assert not failed, json.dumps(failed, indent=1)[:8000]
    unrun = {nb["path"]: nb["counts"] for nb in report["notebooks"] if not all(nb["counts"])}
    assert not unrun, unrun


# -- static rules ---------------------------------------------------------------------------------------------------


def test_binder_files():
    assert not (ROOT / ".binder").exists(), "binder/ and .binder/ together are not allowed by repo2docker"
    for name in ("environment.yml", "Dockerfile", "Project.toml", "install.R"):
        assert not (BINDER / name).exists(), f"binder/{name} would change which buildpack repo2docker uses"

    reqs = _requirements()
    project = [r for r in reqs if re.fullmatch(r"(-e\s+)?\.(\[[\w,\s-]+\])?", r)]
    assert project, f"binder/requirements.txt does not install the project (-e .[lab] or .): {reqs}"
    extras = re.search(r"\[([\w,\s-]+)\]", project[0])
    if extras:
        import tomllib

        declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
        for extra in extras.group(1).split(","):
            assert extra.strip() in declared, f"extra {extra.strip()!r} is not declared in pyproject.toml"
        assert "lab" in extras.group(1), "Binder needs JupyterLab and the widgets: install the [lab] extra"

    post_build = (BINDER / "postBuild").read_text()
    assert post_build.startswith("#!"), "postBuild needs a shebang"
    assert re.search(r"^\s*set -[a-z]*e", post_build, re.MULTILINE), "postBuild must `set -e` (errors don't stop the build)"
    assert "aep_magics" in post_build

    start = (BINDER / "start").read_text()
    assert start.startswith("#!"), "start needs a shebang"
    last = [ln.strip() for ln in start.splitlines() if ln.strip() and not ln.strip().startswith("#")][-1]
    assert last == 'exec "$@"', f'the last line of binder/start must be exec "$@", not {last!r}'

    for name in ("postBuild", "start"):
        assert (BINDER / name).stat().st_mode & stat.S_IXUSR, f"binder/{name} is not executable"


#: The Python repo2docker builds when ``binder/`` holds no ``runtime.txt`` (its default; it ignores
#: ``requires-python``): https://repo2docker.readthedocs.io/en/latest/config_files.html#runtime-txt-specifying-runtimes
REPO2DOCKER_DEFAULT_PYTHON = (3, 10)


def repo2docker_python(binder: Path) -> tuple[int, int]:
    """The Python version repo2docker picks for this configuration: ``binder/runtime.txt``'s ``python-X.Y``, or its
    default."""
    runtime = binder / "runtime.txt"
    if not runtime.exists():
        return REPO2DOCKER_DEFAULT_PYTHON
    m = re.fullmatch(r"python-(\d+)\.(\d+)", runtime.read_text().strip())
    assert m, f"binder/runtime.txt must read python-X.Y, not {runtime.read_text()!r}"
    return int(m.group(1)), int(m.group(2))


def test_binder_python_satisfies_requires_python(tmp_path):
    import tomllib

    from packaging.specifiers import SpecifierSet

    requires = SpecifierSet(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"])
    version = repo2docker_python(BINDER)
    assert requires.contains(f"{version[0]}.{version[1]}"), (
        f"Binder would build Python {version[0]}.{version[1]}, the project needs {requires}: fix binder/runtime.txt")
    # without runtime.txt, repo2docker's default Python is too old: the check above can fail
    (tmp_path / "binder").mkdir()
    assert not requires.contains("{}.{}".format(*repo2docker_python(tmp_path / "binder")))


# -- the launch, in the current venv --------------------------------------------------------------------------------


def test_binder_launch_in_current_env(tmp_path):
    assert shutil.which("bash"), "binder/postBuild and binder/start are bash scripts: install bash"
    repo = _stage(tmp_path / "repo")  # the notebooks run where Binder runs them, but never in this checkout
    home = tmp_path / "home"
    home.mkdir()
    _launch(repo, Path(sys.executable), home, tmp_path)


# -- the build, bounded: resolved against the current venv, no index ------------------------------------------------


def binder_requirements() -> list[str]:
    """The requirements ``binder/requirements.txt`` installs, with the project line (``-e .[lab]``) replaced by the
    project's dependencies and those of the extras it names (an extra naming the project again, like
    ``aep-magics[local]``, is followed)."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    name = project["name"]

    def extras(names: set[str], seen: set[str]) -> list[str]:
        found: list[str] = []
        for extra in sorted(names - seen):
            assert extra in project["optional-dependencies"], f"requirements.txt names an unknown extra {extra!r}"
            seen.add(extra)
            for line in project["optional-dependencies"][extra]:
                req = Requirement(line)
                found += extras(set(req.extras), seen) if req.name == name else [line]
        return found

    out: list[str] = []
    for line in _requirements():
        project_line = re.fullmatch(r"(?:-e\s+)?\.(?:\[([\w,\s-]+)\])?", line)
        if project_line:
            named = {e.strip() for e in (project_line.group(1) or "").split(",") if e.strip()}
            out += [*project["dependencies"], *extras(named, set())]
        else:
            out.append(line)
    return out


def test_binder_requirements_resolve_without_an_index(tmp_path):
    requirements = binder_requirements()
    assert any(r.startswith("jupyterlab") for r in requirements) and any(r.startswith("pyarrow") for r in requirements)
    report = tmp_path / "report.json"
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--quiet",
                             "--disable-pip-version-check", "--report", str(report), *requirements],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (
        f"binder/requirements.txt needs what this environment lacks (install it here and run the tests):\n"
        f"{result.stderr[-3000:]}")
    wanted = [f"{i['metadata']['name']}=={i['metadata']['version']}" for i in json.loads(report.read_text())["install"]]
    assert wanted == [], f"Binder would install packages the tests never ran with: {wanted}"


# -- the build, in a fresh venv -------------------------------------------------------------------------------------


def _stage(dest: Path) -> Path:
    """A copy of the repository as repo2docker stages it (without local venvs, caches and build leftovers)."""
    ignore = shutil.ignore_patterns(".git", ".venv*", "*_cache", ".hypothesis", "*.egg-info", "__pycache__",
                                    "build", "dist", "demo-output", "artifacts", ".ipynb_checkpoints")
    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


@pytest.mark.slow
def test_binder_build_in_fresh_venv(request, tmp_path):
    markexpr = request.config.getoption("markexpr", "") or ""
    if "slow" not in markexpr and not os.environ.get("AEP_BINDER_FULL"):
        pytest.skip("builds a fresh venv (~2-4 min): run with -m slow (or AEP_BINDER_FULL=1)")
    assert shutil.which("bash"), "binder/postBuild and binder/start are bash scripts: install bash"
    repo = _stage(tmp_path / "repo")
    venv = tmp_path / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    cfg = (venv / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in cfg, cfg

    # repo2docker: `pip install -r binder/requirements.txt` from the staged repo's root. pip keeps its normal cache
    # and index configuration (the real HOME), so a warm cache makes this quick and offline-friendly.
    pip_env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "AEP_"))}
    pip_env["PATH"] = os.pathsep.join([str(venv / "bin"), pip_env.get("PATH", "")])
    _run([str(python), "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"], env=pip_env, cwd=repo,
         timeout=1200)
    where = _run([str(python), "-c", "import aep_magics, jupyterlab, ipywidgets; print(aep_magics.__file__)"],
                 env=pip_env, cwd=tmp_path, timeout=60).stdout.strip()
    assert Path(where).resolve().is_relative_to(repo.resolve()), f"aep_magics imported from {where}, not the stage"

    home = tmp_path / "home"
    home.mkdir()
    _launch(repo, python, home, tmp_path)
