"""The two install routes (pip via pyproject.toml, conda via environment.yml) stay in step."""
import os
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_runtime_dependencies_of_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_deps = {_name(r) for r in project["dependencies"]}
    conda, pip_section, in_deps = set(), [], False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        m = re.match(r"^  - (\S.*)$", line)
        if in_deps and m and not m.group(1).startswith("pip:"):
            conda.add(_name(m.group(1)))
        elif in_deps and re.match(r"^      - ", line):
            pip_section.append(line.strip()[2:])
    conda -= {"python", "pip"}
    assert conda == pip_deps, f"only in environment.yml: {conda - pip_deps}; only in " \
                              f"pyproject.toml: {pip_deps - conda}"
    assert "-e ." in pip_section  # the conda route installs bpsim itself


def test_python_floor_matches():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floor = re.search(r"(\d+\.\d+)", project["requires-python"]).group(1)
    assert f"python>={floor}" in (ROOT / "environment.yml").read_text()


def test_import_bpsim_stays_light():
    # The library loads no plotting or widget library; bpsim.viz and bpsim.course do, when drawn.
    import subprocess
    import sys
    code = ("import sys, bpsim, bpsim.viz, bpsim.course; "
            "heavy = [m for m in ('matplotlib', 'ipywidgets', 'IPython') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_course_names_stay_out_of_the_library_api():
    import bpsim
    import bpsim.course.adaptive_challenge as challenge
    assert not {"run_suite", "suite", "simulate_apiserver"} & set(bpsim.__all__)
    assert all(hasattr(bpsim, name) for name in bpsim.__all__)
    assert callable(challenge.run_suite)


def test_no_api_name_is_also_a_module_name():
    # bpsim loads its API lazily; a submodule of the same name would shadow the function once
    # imported (bpsim.sweep the module instead of bpsim.sweep the function).
    from pathlib import Path
    import bpsim
    modules = {p.stem for p in Path(bpsim.__file__).parent.iterdir()}
    assert not set(bpsim.__all__) & modules


def test_the_wheel_ships_the_views_javascript(tmp_path):
    # A non-editable install (pip install bpsim) must carry every file the browser views load:
    # the chart and message views and the vendored uPlot with its licence.
    import subprocess
    import sys
    import zipfile
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(root)], check=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("bpsim-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    viz = root / "bpsim" / "viz"
    wanted = [p.relative_to(root).as_posix() for p in
              [*viz.glob("static/*"), *viz.glob("vendor/*")]]
    assert len(wanted) >= 7
    assert not [w for w in wanted if w not in names], names


def test_no_two_test_modules_share_a_name():
    # pytest imports test files by their base name (no packages under tests/): two of one name,
    # one in tests/ and one in tests/browser/, stop the whole run at collection
    root = Path(__file__).resolve().parents[1]
    names = [p.name for p in (root / "tests").rglob("test_*.py")]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_the_series_jupyter_server_sends_kernel_messages_at_once(monkeypatch):
    # jupyter-config/ (what `tasks.py lab` and the browser tests give the server) swaps in a
    # kernel connection that turns Nagle's algorithm off before connecting, and only that
    from jupyter_server.services.kernels.connection.channels import (
        ZMQChannelsWebsocketConnection as Base,
    )
    from traitlets.config.loader import PyFileConfigLoader
    import tasks
    folder = tasks.JUPYTER_CONFIG
    config = PyFileConfigLoader("jupyter_server_config.py", path=str(folder)).load_config()
    cls = config.ServerApp.kernel_websocket_connection_class
    assert isinstance(cls, type) and issubclass(cls, Base) and cls is not Base
    calls = []
    monkeypatch.setattr(Base, "connect", lambda self: calls.append("connect") or "the future")

    class Handler:
        ws_connection = None

        def set_nodelay(self, value):
            calls.append(("nodelay", value))

    conn = cls.__new__(cls)
    conn._trait_values["websocket_handler"] = Handler()
    assert conn.connect() == "the future"
    assert calls == [("nodelay", True), "connect"]
    # the folder comes first on the server's config path; the user's own stays after it
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "/mine")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    env = tasks.jupyter_env()
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(folder), "/mine"]
    assert "MPLBACKEND" not in env


def test_the_series_jupyterlab_shows_the_kernels_status_in_the_status_bar(monkeypatch, tmp_path):
    # jupyter-config/labconfig/default_setting_overrides.json gives JupyterLab one default of the
    # series; asked through JupyterLab's own settings code, the notebook's kernel status is in the
    # status bar with the series' folder on the config path, and in the toolbar without it (a
    # setting JupyterLab renamed would be ignored without a word: this would say so)
    from jupyterlab.commands import get_app_dir
    from jupyterlab_server.settings_utils import get_settings
    import tasks

    def shown_on_status_bar(config_path):
        monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(config_path))
        monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "user-config"))
        found, _ = get_settings(str(tmp_path / "app-settings"),
                                str(Path(get_app_dir()) / "schemas"), str(tmp_path / "user"),
                                schema_name="@jupyterlab/notebook-extension:tracker")
        return found["schema"]["properties"]["kernelStatus"]["default"]["showOnStatusBar"]

    assert shown_on_status_bar(tasks.JUPYTER_CONFIG) is True
    assert shown_on_status_bar(tmp_path / "none") is False

