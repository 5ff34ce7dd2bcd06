"""deploy/docker-compose.yml, read as a specification (Docker does not run where these tests
run): every tradecore service's command is one the `tradecore` CLI accepts, with a config file
that exists under deploy/ and loads; every mounted file exists; each role has a host of its own;
Prometheus scrapes services the file defines, on the ports they listen on."""
from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path, PurePosixPath

import pytest

from tradecore.cli import build_parser
from tradecore.config import NodeConfig, load, parse

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the compose file")

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
IMAGE = "${TRADECORE_IMAGE:-tradecore:latest}"
TRADECORE = sorted(n for n, s in SERVICES.items() if s.get("image") == IMAGE)
ROLES = {"feed": ["node", "feed"], "strategy-a": ["node", "strategy"],
         "execution": ["node", "execution"], "serve": ["serve"]}
COMMANDS = set(build_parser()._subparsers._group_actions[0].choices)      # noqa: SLF001


def _argv(name: str) -> list[str]:
    """What the container runs after `tradecore`: the image's ENTRYPOINT is ["tradecore"], or
    the service's own entrypoint ends by exec-ing tradecore with the command as "$@"."""
    s = SERVICES[name]
    ep = s.get("entrypoint")
    if ep is not None:
        assert ep[:2] == ["sh", "-c"] and re.search(r'exec tradecore "\$\$@"$', ep[2]), ep
    return list(s["command"])


def _host_path(name: str, container_path: str) -> Path:
    """The file under deploy/ a container path is mounted from (bind mounts only)."""
    for v in SERVICES[name].get("volumes", []):
        src, dst = v.split(":")[:2]
        if not src.startswith((".", "/")):
            continue                                       # a named volume
        rel = PurePosixPath(container_path)
        if rel == PurePosixPath(dst) or PurePosixPath(dst) in rel.parents:
            return (DEPLOY / src / rel.relative_to(dst)).resolve()
    raise AssertionError(f"{name}: {container_path} is not mounted from deploy/")


def _config_of(name: str) -> Path:
    argv = _argv(name)
    return _host_path(name, argv[argv.index("--config") + 1])


def _load_without_bus(path: Path) -> NodeConfig:
    """The config checked as `load` checks it, without [bus] (the bus's own test reads that
    table, which this build's config may not know yet)."""
    data = tomllib.loads(path.read_text())
    data.pop("bus", None)
    return parse(data, path.parent, str(path))


def test_every_role_is_a_service_of_the_tradecore_image():
    assert set(ROLES) <= set(TRADECORE)
    for name in TRADECORE:
        assert _argv(name)[1:1 + len(ROLES[name])] == ROLES[name], name
    assert {"nats", "nats-exporter", "prometheus"} <= set(SERVICES)


def test_the_image_runs_tradecore_when_built_from_the_dockerfile():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r'^ENTRYPOINT \["tradecore"\]$', text, re.M)
    build = SERVICES["feed"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile"


@pytest.mark.parametrize("name", sorted(ROLES))
def test_the_command_of_each_role_is_accepted_by_the_tradecore_cli(name):
    argv = _argv(name)
    sub = ROLES[name][0]
    if sub not in COMMANDS:
        pytest.skip(f"`tradecore {sub}` is not in this build's CLI (the bus nodes, issue 11 "
                    f"section 1, come from another branch)")
    build_parser().parse_args(argv)                        # SystemExit on an unknown flag


@pytest.mark.parametrize("name", sorted(ROLES))
def test_the_config_of_each_role_exists_under_deploy_and_loads(name):
    path = _config_of(name)
    assert path.is_file() and DEPLOY in path.parents
    cfg = _load_without_bus(path)
    assert cfg.feeds and cfg.strategies and cfg.mode == "paper"
    assert str(cfg.report_dir) == "/home/tradecore/reports"     # the image's reports volume


def test_the_bus_table_places_the_strategy_node_and_points_at_the_nats_service():
    settings = pytest.importorskip(
        "tradecore.bus.settings", reason="the [bus] table comes with the bus nodes (issue 11 "
                                         "section 1, another branch)")
    cfg = load(_config_of("strategy-a"))
    bus = settings.bus_settings(cfg)
    argv = _argv("strategy-a")
    assert bus.enabled and bus.url == "nats://nats:4222"
    assert argv[argv.index("--name") + 1] in bus.nodes


def test_the_bus_url_of_the_nodes_reaches_the_nats_server_of_the_compose_file():
    bus = tomllib.loads(_config_of("feed").read_text())["bus"]
    conf = _host_path("nats", "/etc/nats/nats.conf").read_text()
    assert re.search(r"^jetstream\s*\{", conf, re.M)
    port = re.search(r"^port:\s*(\d+)", conf, re.M).group(1)
    assert bus["url"] == f"nats://nats:{port}"
    for name in ("feed", "strategy-a", "execution"):
        assert _config_of(name) == _config_of("feed")      # one config: no two nodes disagree


def test_every_bind_mount_exists_under_deploy_except_the_operators_secret():
    for name, s in SERVICES.items():
        for v in s.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith("."):
                assert (DEPLOY / src).exists(), f"{name}: {src}"
    secret = COMPOSE["secrets"]["tradecore_api_token"]["file"]
    assert secret.startswith("./secrets/")
    assert "secrets/" in (DEPLOY / ".gitignore").read_text().split()   # never committed


def test_each_node_role_has_a_host_of_its_own_and_no_api_healthcheck():
    roles = {}
    for name in ("nats", "feed", "strategy-a", "execution", "serve"):
        (c,) = SERVICES[name]["deploy"]["placement"]["constraints"]
        roles[name] = c
    assert len({roles[n] for n in ("nats", "feed", "strategy-a", "execution", "serve")}) == 5
    for name in ("feed", "strategy-a", "execution"):
        # the image's HEALTHCHECK polls the API on :8080; only `serve` runs the API
        assert SERVICES[name]["healthcheck"] == {"disable": True}
    assert SERVICES["execution"]["deploy"]["replicas"] == 1    # one per account


def test_prometheus_scrapes_services_of_the_file_on_the_ports_they_listen_on():
    prom = SERVICES["prometheus"]
    conf_path = _host_path("prometheus", prom["command"][0].split("=", 1)[1])
    conf = yaml.safe_load(conf_path.read_text())
    for rules in conf["rule_files"]:
        assert (conf_path.parent / rules).is_file()
    listens = {"serve": _argv("serve")[_argv("serve").index("--port") + 1],
               "nats-exporter": "7777"}                     # the exporter's default port
    jobs = {j["job_name"]: j for j in conf["scrape_configs"]}
    assert set(jobs) == {"tradecore", "nats"}
    for job in jobs.values():
        for target in (t for sc in job["static_configs"] for t in sc["targets"]):
            host, port = target.split(":")
            assert host in SERVICES and listens[host] == port, target
    creds = jobs["tradecore"]["authorization"]["credentials_file"]
    assert creds == "/run/secrets/tradecore_api_token" and "tradecore_api_token" in prom["secrets"]
    assert "tradecore_api_token" in SERVICES["serve"]["secrets"]


def test_the_serve_role_reads_its_token_from_the_secret_not_the_compose_file():
    ep = SERVICES["serve"]["entrypoint"][2]
    assert "/run/secrets/tradecore_api_token" in ep
    assert "TRADECORE_API_TOKEN" not in json.dumps(SERVICES["serve"].get("environment", {}))
    # what the shell runs after compose's $$ -> $ unescaping: exec tradecore "$@"
    assert shlex.split(ep.replace("$$", "$"))[-2:] == ["tradecore", "$@"]


def test_the_execution_node_keeps_its_journal_twin_on_a_host_tmpfs_that_outlives_it():
    """A container's own /dev/shm goes with the container: the image maps the journal file
    directly unless told otherwise, and the execution node is told to use a directory bound
    from the host's /dev/shm, which a crash of the container leaves in place."""
    ex = SERVICES["execution"]
    twin = ex["environment"]["TRADECORE_JOURNAL_TWIN_DIR"]
    binds = dict(v.split(":")[:2][::-1] for v in ex["volumes"])
    assert binds[twin].startswith("/dev/shm/")
    assert ex["environment"]["OPENBLAS_NUM_THREADS"] == "1"      # the anchor's, kept
    dockerfile = (DEPLOY.parent / "Dockerfile").read_text()
    assert 'TRADECORE_JOURNAL_TWIN_DIR=""' in dockerfile
