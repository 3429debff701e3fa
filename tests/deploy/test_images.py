"""Static checks of images/*.Dockerfile, images/build.sh and .dockerignore (no Docker engine needed).

Each Dockerfile: every base pinned by digest, the final stage runs as a non-root user, pip installs only the project
itself with extras that exist in pyproject.toml (plus torch at the version the `train` extra pins), COPY sources are
inside the .dockerignore allow-list. The image tag constant equals the package version.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import subprocess

import pytest
import tomllib
from manifest_tools import ROOT, project_version

DOCKERFILES = sorted((ROOT / "images").glob("*.Dockerfile"))
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
PROJECT_SPEC = re.compile(r"^\.(\[(?P<extras>[A-Za-z0-9_,${}-]*)\])?$")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    out, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued RUN
            continue
        pending += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            word, _, rest = pending.partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


def substitute(value: str, args: dict[str, str]) -> str:
    """Expand ${NAME} / $NAME from ARG defaults (what `docker build` does without --build-arg)."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), value)


def stages(path) -> list[dict]:
    """Per stage: resolved base image, alias, the instructions in it; global and stage ARG defaults applied."""
    global_args: dict[str, str] = {}
    result: list[dict] = []
    for word, rest in instructions(path.read_text()):
        if word == "ARG":
            name, _, default = rest.partition("=")
            target = result[-1]["args"] if result else global_args
            target[name] = default.strip('"')
        elif word == "FROM":
            parts = [p for p in rest.split() if not p.startswith("--")]
            image = substitute(parts[0], global_args)
            alias = parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else None
            result.append({"image": image, "alias": alias, "args": dict(global_args), "body": []})
        else:
            result[-1]["body"].append((word, rest))
    return result


def pip_installs(run: str) -> list[list[str]]:
    """Argument lists of every `pip install` in a RUN command (shell tokens, split at && ; | ||)."""
    lexer = shlex.shlex(run, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands, current = [], []
    for token in lexer:
        if token in {"&&", ";", "|", "||"}:
            commands.append(current)
            current = []
        else:
            current.append(token)
    commands.append(current)
    found = []
    for tokens in commands:
        for i in range(len(tokens) - 1):
            if tokens[i].endswith("pip") and tokens[i + 1] == "install":
                found.append(tokens[i + 2 :])
    return found


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def torch_pin() -> str:
    """The exact torch version the `train` extra pins."""
    pins = [r for r in pyproject()["project"]["optional-dependencies"]["train"] if r.startswith("torch==")]
    assert len(pins) == 1, "the train extra must pin torch exactly once"
    return pins[0].split("==", 1)[1]


def test_both_images_exist():
    assert [p.name for p in DOCKERFILES] == ["cpu.Dockerfile", "cuda.Dockerfile"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_base_image_is_pinned_by_digest(dockerfile):
    all_stages = stages(dockerfile)
    aliases = {s["alias"] for s in all_stages if s["alias"]}
    for stage in all_stages:
        if stage["image"] in aliases:  # FROM an earlier stage
            continue
        assert DIGEST.search(stage["image"]), f"{dockerfile.name}: base {stage['image']!r} is not pinned by digest"
        assert "${" not in stage["image"], f"{dockerfile.name}: unresolved ARG in FROM {stage['image']!r}"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_final_stage_runs_as_non_root(dockerfile):
    final = stages(dockerfile)[-1]
    users = [rest for word, rest in final["body"] if word == "USER"]
    assert users, f"{dockerfile.name}: the runtime stage sets no USER (would run as root)"
    user = users[-1].split(":")[0]
    assert user not in {"0", "root"}, f"{dockerfile.name}: runtime USER is {users[-1]!r}"
    # the uid must exist: created in the same stage
    assert any(word == "RUN" and f"--uid {user}" in rest for word, rest in final["body"]), (
        f"{dockerfile.name}: USER {user} is never created with useradd --uid {user}"
    )


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_pip_installs_only_the_project_and_pinned_torch(dockerfile):
    extras_known = set(pyproject()["project"]["optional-dependencies"])
    installs = 0
    for stage in stages(dockerfile):
        for word, rest in stage["body"]:
            if word != "RUN":
                continue
            for args in pip_installs(rest):
                installs += 1
                specs = [a for a in args if not a.startswith("-")]
                assert specs, f"{dockerfile.name}: `pip install {' '.join(args)}` installs nothing"
                for spec in specs:
                    if spec.startswith("torch=="):
                        version = substitute(spec.split("==", 1)[1], stage["args"])
                        assert version == torch_pin(), (
                            f"{dockerfile.name}: torch {version} but pyproject's train extra pins {torch_pin()}"
                        )
                        continue
                    match = PROJECT_SPEC.match(spec)
                    assert match, f"{dockerfile.name}: ad-hoc `pip install {spec}`; add it to a pyproject extra"
                    for extra in filter(None, (match.group("extras") or "").split(",")):
                        if "$" in extra:  # assembled in the shell (e.g. ${extras}); checked below
                            continue
                        assert extra in extras_known, f"{dockerfile.name}: extra [{extra}] not in pyproject.toml"
    assert installs, f"{dockerfile.name}: no pip install at all"


def test_image_extras_match_the_deploy_contract():
    """CPU image: curate+eval+kfp. CUDA image: all+gpu (+vllm only behind WITH_VLLM)."""
    cpu = (ROOT / "images" / "cpu.Dockerfile").read_text()
    cuda = (ROOT / "images" / "cuda.Dockerfile").read_text()
    assert 'pip install ".[curate,eval,kfp]"' in cpu
    assert 'extras="all,gpu"' in cuda and 'extras="$extras,vllm"' in cuda
    extras = pyproject()["project"]["optional-dependencies"]
    assert {"curate", "eval", "kfp", "all", "gpu", "vllm", "gpu-build"} <= set(extras)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_copy_sources_are_in_the_build_context(dockerfile):
    """Every COPY source (not --from) survives .dockerignore's allow-list; nothing else reaches the builder."""
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines() if p.strip()]
    patterns = [p for p in patterns if not p.startswith("#")]
    assert patterns[0] == "*", ".dockerignore must start by excluding everything"
    allowed = [p[1:].rstrip("/") for p in patterns if p.startswith("!")]
    for stage in stages(dockerfile):
        for word, rest in stage["body"]:
            if word != "COPY" or "--from=" in rest:
                continue
            sources = [a for a in rest.split() if not a.startswith("--")][:-1]
            for source in sources:
                source = source.rstrip("/")
                assert any(fnmatch.fnmatch(source, pat) for pat in allowed), (
                    f"{dockerfile.name}: COPY {source} is excluded by .dockerignore"
                )
                assert (ROOT / source).exists(), f"{dockerfile.name}: COPY {source}: no such path"


def test_dockerignore_keeps_secrets_and_bulk_out():
    text = (ROOT / ".dockerignore").read_text()
    for forbidden in ("!.git", "!.venv", "!*.json", "!.env", "!artifacts", "!build"):
        assert forbidden not in text


def test_torch_arg_matches_pyproject():
    cuda = stages(ROOT / "images" / "cuda.Dockerfile")
    assert cuda[0]["args"]["TORCH_VERSION"] == torch_pin()


def test_image_tag_constant_is_the_package_version():
    from components import _image

    assert _image.TAG == project_version(), (
        f"components/_image.py TAG {_image.TAG} != pyproject {project_version()}; re-run `make install`"
    )
    assert _image.O3V_IMAGE.endswith(f"/{_image.CPU_IMAGE_NAME}:{project_version()}")
    assert _image.O3V_GPU_IMAGE.endswith(f"/{_image.GPU_IMAGE_NAME}:{project_version()}")


def _build_sh(*args: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in {"ONLY", "WITH_VLLM", "O3V_REGISTRY"}}
    full_env.update({"DRY_RUN": "1", **env})
    return subprocess.run(
        ["bash", str(ROOT / "images" / "build.sh"), *args], capture_output=True, text=True, env=full_env, timeout=30
    )


def test_build_sh_tags_images_like_the_components_do():
    from components import _image

    proc = _build_sh("build", "us-docker.pkg.dev/p/o3v/")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2
    for name, line in zip((_image.CPU_IMAGE_NAME, _image.GPU_IMAGE_NAME), lines):
        tokens = shlex.split(line)
        assert tokens[tokens.index("-t") + 1] == f"us-docker.pkg.dev/p/o3v/{name}:{project_version()}"
        assert tokens[tokens.index("-f") + 1] == f"images/{name.removeprefix('o3v-')}.Dockerfile"
        assert f"O3V_VERSION={project_version()}" in tokens


def test_build_sh_push_vllm_and_arguments():
    proc = _build_sh("push", "reg.example/o3v", ONLY="cuda")
    assert proc.returncode == 0, proc.stderr
    assert shlex.split(proc.stdout) == ["docker", "push", f"reg.example/o3v/o3v-cuda:{project_version()}"]
    proc = _build_sh("build", "reg.example/o3v", ONLY="cuda", WITH_VLLM="1")
    assert "WITH_VLLM=1" in shlex.split(proc.stdout)
    assert _build_sh("deploy", "reg.example/o3v").returncode == 2
    assert _build_sh("build").returncode == 2
    assert _build_sh("build", "r", ONLY="tpu").returncode == 2


def test_build_sh_warns_when_registry_differs_from_the_pipeline_registry():
    proc = _build_sh("build", "reg.example/o3v", O3V_REGISTRY="other.example/o3v")
    assert proc.returncode == 0
    assert "O3V_REGISTRY=other.example/o3v" in proc.stderr


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ('pip install ".[a,b]" && pip check', [[".[a,b]"]]),
        ("pip install --no-build-isolation .", [["--no-build-isolation", "."]]),
        ("cd x; /opt/venv/bin/pip install requests | tee log", [["requests"]]),
        ("python -m pip check", []),
        ('python -c "import a; a.b()" && pip install .', [["."]]),
    ],
)
def test_pip_install_parser(run, expected):
    """The parser the checks above rely on, on literal RUN lines."""
    assert pip_installs(run) == expected
