"""The brokers' own metrics: the Prometheus JMX exporter agent attached to each local node.

Kafka keeps its health in JMX MBeans, and no govbus process can read them; the agent serves
them over HTTP from inside the broker's JVM. It reads only the MBeans declared in
``ops.metrics.BROKER_METRICS`` (its rules are written from that declaration, one rule per
metric), so a scrape costs a handful of attribute reads, not a walk of Kafka's thousands
of MBeans. Node n serves ``/metrics`` on its client port + ``METRICS_PORT_OFFSET``; Prometheus
finds the nodes through the file this module writes (job ``kafka``, label ``node``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ops.metrics import BROKER_METRICS, BrokerMetricSpec
from ops.settings import Settings
from ops.stack.process import StackError
from ops.stack.tooling import STACK_DIR, resolve_jars

AGENT_POM = STACK_DIR / "jmx-exporter-pom.xml"
#: A node's metrics port above its client port: +1 and +2 may be the controller and the
#: inter-broker listeners (see ops.stack.kafka), and node n+1 starts 10 above.
METRICS_PORT_OFFSET = 3
#: The Prometheus file discovery of the brokers, written at `govbus stack up`.
SCRAPE_TARGETS_FILE = "prometheus-kafka-targets.json"


def metrics_port(client_port: int) -> int:
    return client_port + METRICS_PORT_OFFSET


def rule(spec: BrokerMetricSpec) -> dict[str, str]:
    """The agent's rule for one declared metric: the MBean's Value under the declared name.

    The agent matches ``domain<key=value, key=value><>attribute`` (keys in the object
    name's order) against a Java regular expression.
    """
    domain, _, keys = spec.object_name.partition(":")
    bean = f"{re.escape(domain)}<{', '.join(keys.split(','))}><>Value"
    return {"pattern": bean, "name": spec.name, "help": spec.help, "type": spec.type.upper()}


def exporter_config(specs: tuple[BrokerMetricSpec, ...] = BROKER_METRICS) -> dict[str, Any]:
    """The agent's configuration: the declared MBeans only, each by its own rule."""
    return {
        "includeObjectNames": [spec.object_name for spec in specs],
        "rules": [rule(spec) for spec in specs],
    }


def write_exporter_config(path: Path) -> Path:
    # JSON is YAML, which the agent reads.
    path.write_text(json.dumps(exporter_config(), indent=2) + "\n")
    return path


def agent_dir(state_dir: Path) -> Path:
    """Where the agent's jar is resolved to, beside the broker's class path."""
    return state_dir / "kafka" / "jmx-exporter"


def agent_jar(state_dir: Path) -> Path:
    """The agent's jar, resolved once from Maven Central (its checksum verified)."""
    folder = resolve_jars(AGENT_POM, agent_dir(state_dir))
    jars = sorted(folder.glob("jmx_prometheus_javaagent-*.jar"))
    if len(jars) != 1:
        raise StackError(f"expected one JMX exporter agent jar in {folder}, found {jars}")
    return jars[0]


def agent_option(jar: Path, host: str, port: int, config: Path) -> str:
    """The JVM option attaching the agent, serving on ``host:port``."""
    return f"-javaagent:{jar}={host}:{port}:{config}"


def scrape_targets(settings: Settings) -> list[dict[str, object]]:
    """Every node's metrics address as Prometheus ``file_sd_configs`` groups, by node."""
    return [
        {"targets": [f"{host}:{metrics_port(port)}"], "labels": {"node": str(node)}}
        for node, (host, port, _) in enumerate(settings.kafka_nodes, 1)
    ]


def write_scrape_targets(settings: Settings) -> Path:
    """Write the nodes' targets for Prometheus (atomically); returns the file."""
    path = settings.state_dir / "run" / SCRAPE_TARGETS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(scrape_targets(settings), indent=2) + "\n")
    tmp.replace(path)
    return path
