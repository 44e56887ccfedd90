"""deploy/Dockerfile builds: its build steps run here, as written, with only the environment the
Dockerfile sets, in a throwaway copy of the build context made as its COPY lines and
.dockerignore describe (no Docker engine runs on this machine; tests/deploy/dockerfile.py).

What this cannot check, and where it is checked instead:
- the base image (python:3.11-slim-bookworm) and its apt packages: the step that apt-installs the
  compiler and LDAP headers, creates the image's virtualenv and pip-installs into it is not run.
  The virtualenv of this test run stands in for the image's; ``test_the_virtualenv_is_what_the
  _image_installs`` proves it holds exactly what that step's pip command installs (the lock).
- creating the portal user (``groupadd``/``useradd`` need root and change this machine), and the
  image's USER, EXPOSE, HEALTHCHECK and CMD at run time (the command's module imports and the
  health check script is in the image: both checked below, not served).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.deploy.dockerfile import (
    Copy,
    DockerIgnore,
    Image,
    Step,
    expand,
    logical_lines,
    parse,
    parse_env,
)

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile before the context's own.
DOCKERIGNORE = ROOT / "deploy" / "Dockerfile.dockerignore"

# RUN steps this machine cannot run, by a word that only they contain, and why.
NEEDS_THE_IMAGE = {
    # First: its step also apt-installs npm and gettext (and removes them again).
    "npm ci": "builds the console's npm packages and translations with the image's npm/gettext",
    "apt-get": "installs Debian packages and creates the image's virtualenv (base image, root)",
    "useradd": "creates the image's portal user (root, changes the machine)",
}


def needs_the_image(step: Step) -> str | None:
    return next((word for word in NEEDS_THE_IMAGE if word in step.command), None)


@pytest.fixture(scope="module")
def dockerfile():
    return parse(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def built(dockerfile, tmp_path_factory):
    """Every COPY and every RUN the machine can run, in order, stopping at the first failure."""
    base = tmp_path_factory.mktemp("image")
    rootfs = base / "rootfs"
    rootfs.mkdir()
    image = Image(rootfs=rootfs, venv=Path(sys.prefix), virtual_env=dockerfile.env["VIRTUAL_ENV"])
    ignore = DockerIgnore.parse(DOCKERIGNORE.read_text())
    ran: list[tuple[Step, subprocess.CompletedProcess]] = []
    not_run: list[tuple[Step, str]] = []
    sent: list[str] = []
    for step in dockerfile.steps:
        if isinstance(step, Copy):
            sent += image.copy(step, ROOT, ignore)
            continue
        word = needs_the_image(step)
        if word:
            not_run.append((step, word))
            continue
        result = image.run(step, home=base / "home")
        ran.append((step, result))
        if result.returncode != 0:
            break
    return image, ran, not_run, sent, ignore


def test_every_run_step_runs_here_but_those_that_need_the_image(built, dockerfile):
    _, ran, not_run, _, _ = built
    runs = [s for s in dockerfile.steps if isinstance(s, Step)]
    assert sorted(word for _, word in not_run) == sorted(NEEDS_THE_IMAGE)
    assert len(ran) + len(not_run) == len(runs)
    commands = " ".join(step.command for step, _ in ran)
    assert "manage.py collectstatic" in commands
    assert "manage.py check --deploy" in commands


def test_build_steps_succeed_with_only_the_dockerfile_environment(built):
    _, ran, _, _, _ = built
    for step, result in ran:
        assert result.returncode == 0, (
            f"Dockerfile line {step.line} failed ({result.returncode}):\n"
            f"{step.command}\n{result.stdout}\n{result.stderr}"
        )


def test_the_build_uses_no_runtime_secret_or_service(dockerfile):
    """No RUN step is given a secret or a service address: the build needs neither."""
    for step in dockerfile.steps:
        if isinstance(step, Step):
            for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PORTAL_ENCRYPTION_KEYS"):
                assert name not in step.command, (step.line, name)
                assert name not in step.env, (step.line, name)


def test_static_files_are_collected_hashed_and_compressed(built):
    image, ran, _, _, _ = built
    assert ran[-1][1].returncode == 0
    static = Path(image.host_path("/app/staticfiles"))
    manifest = (static / "staticfiles.json").read_text()
    assert '"admin/css/base.css": "admin/css/base.' in manifest
    hashed = [p.name for p in (static / "admin" / "css").glob("base.*.css")]
    assert len(hashed) == 1, hashed
    assert (static / "admin" / "css" / f"{hashed[0]}.gz").stat().st_size > 0
    # Swagger UI is served from the sidecar's files, not a CDN.
    assert list((static / "drf_spectacular_sidecar").rglob("swagger-ui-bundle.js"))


def test_portal_code_is_compiled(built):
    image, _, _, _, _ = built
    app = Path(image.host_path("/app"))
    assert list((app / "tkeportal" / "settings" / "__pycache__").glob("prod.*.pyc"))
    assert list((app / "apps" / "clusters" / "__pycache__").glob("models.*.pyc"))


def test_the_context_leaves_out_secrets_and_local_state(built):
    image, _, _, sent, ignore = built
    assert "manage.py" in sent
    assert "deploy/healthcheck.py" in sent  # the HEALTHCHECK's script
    assert ".env.example" in sent  # a "!" exception of the ignore file
    for path in sent:
        top = path.split("/")[0]
        assert top not in {".git", ".venv", ".env", "staticfiles", "var", "db.sqlite3"}, path
        assert "__pycache__" not in path, path
    assert ignore.excluded(".env")
    assert ignore.excluded(".env.production")
    assert not ignore.excluded(".env.example")


def test_a_dotenv_in_the_context_stops_the_build(built, dockerfile, tmp_path):
    image, _, _, _, _ = built
    (guard,) = [s for s in dockerfile.steps if isinstance(s, Step) and "/app/.env" in s.command]
    dotenv = Path(image.host_path("/app/.env"))
    dotenv.write_text("SECRET_KEY=oops\n")
    try:
        result = image.run(guard, home=tmp_path)
    finally:
        dotenv.unlink()
    assert result.returncode == 1
    assert "refusing to build with a .env in the context" in result.stderr
    assert image.run(guard, home=tmp_path).returncode == 0


def runtime_step(dockerfile, command: str) -> Step:
    """``command`` run in the finished image: its final ENV and WORKDIR."""
    workdir = dockerfile.instruction("WORKDIR").arguments
    return Step(command, dict(dockerfile.env), workdir, 0)


def test_the_image_refuses_to_start_without_its_runtime_values(built, dockerfile, tmp_path):
    image, _, _, _, _ = built
    assert dockerfile.env["DJANGO_SETTINGS_MODULE"] == "tkeportal.settings.prod"
    result = image.run(runtime_step(dockerfile, "python manage.py check"), home=tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    for name in ("SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "PORTAL_ENCRYPTION_KEYS"):
        assert name in result.stderr
    assert "REDIS_URL" in result.stderr


def test_the_image_command_loads_with_its_runtime_values(built, dockerfile, tmp_path):
    """The CMD's program is on the image's PATH and its application module loads under the
    production settings once the runtime values are given (nothing is connected to)."""
    image, _, _, _, _ = built
    cmd = dockerfile.instruction("CMD").arguments
    assert cmd.startswith('["uvicorn", "tkeportal.asgi:application"')
    step = runtime_step(
        dockerfile,
        "command -v uvicorn && python -c 'from tkeportal.asgi import application; "
        'from django.conf import settings; print(settings.CACHES["default"]["BACKEND"])\'',
    )
    step.env.update(
        SECRET_KEY="s3cr3t-" + "abcdefghij" * 6,
        DATABASE_URL="postgres://portal:portal@127.0.0.1:1/portal",
        ALLOWED_HOSTS="portal.example.com",
        PORTAL_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        REDIS_URL="redis://127.0.0.1:1/0",
    )
    result = image.run(step, home=tmp_path)
    assert result.returncode == 0, result.stderr
    uvicorn, backend = result.stdout.split()
    assert uvicorn == f"{sys.prefix}/bin/uvicorn"
    assert backend == "django.core.cache.backends.redis.RedisCache"


def test_the_virtualenv_is_what_the_image_installs(dockerfile, tmp_path):
    """The step that cannot run here installs requirements.txt under the lock: every one of
    them is already satisfied, at its locked version, in the virtualenv standing in for it
    (pip refuses offline otherwise)."""
    (install,) = [s for s in dockerfile.steps if isinstance(s, Step) and "pip install" in s.command]
    assert (
        "pip install -r /tmp/requirements/requirements.txt "
        "-c /tmp/requirements/requirements-lock.txt" in install.command
    )
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--dry-run", "--no-index"),
            *("-r", "requirements.txt", "-c", "requirements-lock.txt"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Would install" not in result.stdout
    assert "Requirement already satisfied: Django" in result.stdout


# -- the reader itself ----------------------------------------------------------------------------
def test_reader_joins_continuations_and_drops_comments():
    text = "FROM x\n# note\nRUN a \\\n  # inner comment\n  && b\n\nENV A=1\n"
    assert logical_lines(text) == [(1, "FROM x"), (3, "RUN a && b"), (7, "ENV A=1")]


def test_reader_expands_env_as_docker_does():
    env = parse_env('A=1 B="two words" PATH=/v/bin:$PATH C=${A}', {"PATH": "/usr/bin", "A": "0"})
    assert env == {"A": "1", "B": "two words", "PATH": "/v/bin:/usr/bin", "C": "0"}
    assert expand("${MISSING:-dflt}/$NONE", {}) == "dflt/"


def test_dockerignore_last_match_wins_and_covers_directories():
    ignore = DockerIgnore.parse("# c\n.git\n**/__pycache__\n.env.*\n!.env.example\n/var\n")
    assert ignore.excluded(".git/config")
    assert ignore.excluded("apps/core/__pycache__/x.pyc")
    assert ignore.excluded("__pycache__/x.pyc")
    assert ignore.excluded("var/kubesim.kubeconfig")
    assert ignore.excluded(".env.local")
    assert not ignore.excluded(".env.example")
    assert not ignore.excluded("apps/var.py")


def test_the_image_builds_the_console_assets_it_serves(dockerfile):
    """The step that cannot run here installs exactly the locked npm packages (the ones the
    settings serve) and compiles the committed translations, before static files are collected."""
    import json

    from django.conf import settings

    steps = [s for s in dockerfile.steps if isinstance(s, Step)]
    (assets,) = [s for s in steps if "npm ci" in s.command]
    assert "compilemessages" in assets.command
    collect = next(i for i, s in enumerate(steps) if "collectstatic" in s.command)
    assert steps.index(assets) < collect
    lock = json.loads((ROOT / "package-lock.json").read_text())
    installed = {path.removeprefix("node_modules/") for path in lock["packages"] if path}
    for prefix, path in settings.VENDOR_ASSETS.items():
        parts = path.relative_to(settings.NODE_MODULES).parts
        # a scoped package is two parts (@xterm/xterm); a whole scope may be served (@xterm)
        package = "/".join(parts[:2]) if parts[0].startswith("@") else parts[0]
        served = package in installed or any(p.startswith(f"{package}/") for p in installed)
        assert served, f"{prefix} is served from {package}, which npm ci lacks"
