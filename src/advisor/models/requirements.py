"""The requirements a user states about their system: the product's input contract.

Every field is optional. A field left out is *unknown*: it is never given a default value,
rules that need it do not fire, and the report lists it as an assumption. Units are part of
each field name (``_rps``, ``_kb``, ``_gb``, ``_ms``, ``_minutes``, ``_seconds``).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    """Base of every requirements section: unknown keys are rejected, values are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class WorkloadKind(str, Enum):
    web_app = "web_app"
    api = "api"
    event_processing = "event_processing"
    messaging = "messaging"
    data_pipeline = "data_pipeline"
    analytics = "analytics"
    batch = "batch"


class TrafficPattern(str, Enum):
    steady = "steady"
    spiky = "spiky"
    predictable_peaks = "predictable_peaks"
    unknown = "unknown"


class DataModel(str, Enum):
    relational = "relational"
    key_value = "key_value"
    document = "document"
    wide_column = "wide_column"
    time_series = "time_series"
    graph = "graph"
    blob = "blob"


class Consistency(str, Enum):
    strong = "strong"
    eventual = "eventual"


class Consumers(str, Enum):
    one = "one"
    many = "many"


class Routing(str, Enum):
    none = "none"
    attribute = "attribute"
    content = "content"


class ApiAuth(str, Enum):
    none = "none"
    iam = "iam"
    cognito = "cognito"
    oidc_jwt = "oidc_jwt"
    api_key = "api_key"
    lambda_custom = "lambda_custom"


class Compliance(str, Enum):
    pci_dss = "pci_dss"
    hipaa = "hipaa"
    fedramp = "fedramp"
    soc2 = "soc2"
    gdpr = "gdpr"


class AnalyticsIngest(str, Enum):
    streaming = "streaming"
    batch = "batch"


class AnalyticsTiming(str, Enum):
    in_stream = "in_stream"
    after_landing = "after_landing"
    warehouse = "warehouse"


class CostSensitivity(str, Enum):
    low = "low"
    medium = "medium"
    high = "high"


# Upper bound: far beyond any real system, and keeps every number printable without an
# exponent, which durable-rules' JSON parser cannot read (tests/test_engine.py pins it).
MAX_NUMBER = 1e12
NonNegative = Annotated[float, Field(ge=0, le=MAX_NUMBER, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, le=MAX_NUMBER, allow_inf_nan=False)]


class Workload(Section):
    """What kind of system this is."""

    name: str | None = Field(None, max_length=200, description="A short name for the system.")
    kind: WorkloadKind | None = Field(
        None,
        description="The main shape of the workload: an interactive web application, an API, "
        "event or message processing, a data pipeline, analytics, or batch jobs.",
    )
    description: str | None = Field(None, max_length=4000, description="Free text; not evaluated.")


class Traffic(Section):
    """How much load arrives and how it varies."""

    peak_rps: NonNegative | None = Field(None, description="Peak requests per second.")
    average_rps: NonNegative | None = Field(None, description="Average requests per second.")
    pattern: TrafficPattern | None = Field(
        None,
        description="steady; spiky (sudden, unannounced bursts); predictable_peaks (known dates "
        "or recurring schedule); unknown (no estimate yet).",
    )
    reads_per_write: NonNegative | None = Field(
        None, description="Read:write ratio as reads per write (9 means 9 reads for every write)."
    )
    global_users: bool | None = Field(None, description="Users are spread across continents.")


class Data(Section):
    """The shape and size of the data the system keeps."""

    model: DataModel | None = Field(None, description="The natural shape of the primary data.")
    size_gb: NonNegative | None = Field(None, description="Total stored data in GB.")
    item_size_kb: NonNegative | None = Field(
        None, description="Size of one item/record/row in KB (the largest common item)."
    )
    needs_joins: bool | None = Field(
        None, description="Queries join several entities or run ad hoc multi-table queries."
    )
    needs_transactions: bool | None = Field(
        None, description="Writes must be ACID across several items or rows."
    )
    access_patterns_known: bool | None = Field(
        None, description="Every query can be expressed as a lookup by a known key or key range."
    )
    consistency: Consistency | None = Field(
        None, description="strong: every read sees the latest write; eventual: stale reads OK."
    )
    process_on_upload: bool | None = Field(
        None,
        description="Stored objects need processing after upload (resize, moderation, "
        "transcoding).",
    )


class Latency(Section):
    """Response-time target."""

    p99_ms: Positive | None = Field(None, description="99th-percentile read latency target in ms.")


class Availability(Section):
    """How much failure the system must survive."""

    multi_az: bool | None = Field(
        None, description="Must survive the loss of an Availability Zone."
    )
    multi_region: bool | None = Field(None, description="Must survive the loss of a Region.")
    active_active: bool | None = Field(
        None, description="Several Regions serve writes at the same time."
    )


class Recovery(Section):
    """Disaster-recovery objectives."""

    rto_minutes: NonNegative | None = Field(
        None, description="Recovery time objective: longest tolerable outage, in minutes."
    )
    rpo_minutes: NonNegative | None = Field(
        None, description="Recovery point objective: most data loss tolerable, in minutes."
    )


class Messaging(Section):
    """Asynchronous work and messages between components."""

    async_processing: bool | None = Field(
        None, description="Some work can finish after the request that caused it returns."
    )
    consumers: Consumers | None = Field(
        None, description="one: each message is handled once; many: every subscriber gets it."
    )
    ordering: bool | None = Field(None, description="Messages must be processed in order.")
    replay: bool | None = Field(
        None, description="Consumers must re-read past messages (history is retained)."
    )
    routing: Routing | None = Field(
        None,
        description="none; attribute: route on message metadata; content: route on fields in the "
        "message body or on multi-field conditions.",
    )
    priority_levels: Annotated[int, Field(ge=1, le=100)] | None = Field(
        None, description="Number of priority classes; 1 means no prioritisation."
    )
    max_message_size_kb: NonNegative | None = Field(
        None, description="Largest message payload in KB."
    )
    existing_broker: bool | None = Field(
        None, description="An existing JMS/AMQP/MQTT broker application must keep working."
    )


class Caching(Section):
    """In-memory caching needs."""

    hot_reads: bool | None = Field(None, description="The same data is read over and over.")
    rich_data_structures: bool | None = Field(
        None, description="The cache needs lists, sets, sorted sets, hashes or geospatial data."
    )
    persistence: bool | None = Field(
        None, description="Cache contents must survive node restarts."
    )
    multithreaded_simple_cache: bool | None = Field(
        None,
        description="A plain key-value cache that should use many cores per node, with no "
        "replication or persistence.",
    )


class Api(Section):
    """What the request front door must do."""

    rate_limiting: bool | None = Field(
        None, description="Per-client throttling, quotas or usage plans with API keys."
    )
    request_validation: bool | None = Field(
        None, description="Validate or transform requests and responses at the front door."
    )
    static_ip: bool | None = Field(None, description="Clients must reach fixed IP addresses.")
    longest_request_seconds: NonNegative | None = Field(
        None, description="Longest time one synchronous request may take, in seconds."
    )
    websockets: bool | None = Field(
        None, description="The server pushes messages to connected clients (WebSocket)."
    )
    response_caching: bool | None = Field(
        None, description="Identical responses should be cached at the front door."
    )
    auth: ApiAuth | None = Field(None, description="How callers authenticate.")
    health_checks: bool | None = Field(
        None, description="The front door must health-check backend targets."
    )
    cross_account_backend: bool | None = Field(
        None, description="A backend Lambda function lives in another account or Region."
    )
    openapi_import: bool | None = Field(
        None, description="The API is defined by (and exported as) an OpenAPI document."
    )
    plain_http: bool | None = Field(
        None, description="Clients must be able to connect over plain HTTP (not only HTTPS)."
    )


class Operations(Section):
    """What the team can and wants to run."""

    prefer_serverless: bool | None = Field(
        None, description="Prefer services with no servers to patch or scale."
    )
    prefer_managed: bool | None = Field(
        None, description="Prefer managed services over self-run software."
    )
    kubernetes_experience: bool | None = Field(
        None, description="The team already runs Kubernetes in production."
    )
    needs_os_access: bool | None = Field(
        None, description="The software needs OS or root access on its hosts."
    )


class Security(Section):
    """Regulatory scope."""

    compliance: list[Compliance] | None = Field(
        None, description="Compliance regimes in scope (an empty list means none)."
    )


class Analytics(Section):
    """Analysis of collected data."""

    ingest: AnalyticsIngest | None = Field(
        None,
        description="streaming: events arrive continuously (clickstream, telemetry, logs); "
        "batch: data arrives as periodic files or extracts.",
    )
    timing: AnalyticsTiming | None = Field(
        None,
        description="in_stream: analyse while data flows; after_landing: query data after it "
        "lands in storage; warehouse: load into a data warehouse.",
    )
    ad_hoc_sql: bool | None = Field(None, description="Analysts run ad hoc SQL over the data.")
    dashboards: bool | None = Field(None, description="Business dashboards and reports.")


class Cost(Section):
    """How much cost drives the design."""

    sensitivity: CostSensitivity | None = Field(
        None, description="low: performance first; high: cheapest design that meets the needs."
    )


class Requirements(Section):
    """Everything a user can state about their system. Every field is optional."""

    workload: Workload = Field(default_factory=lambda: Workload())
    traffic: Traffic = Field(default_factory=lambda: Traffic())
    data: Data = Field(default_factory=lambda: Data())
    latency: Latency = Field(default_factory=lambda: Latency())
    availability: Availability = Field(default_factory=lambda: Availability())
    recovery: Recovery = Field(default_factory=lambda: Recovery())
    messaging: Messaging = Field(default_factory=lambda: Messaging())
    caching: Caching = Field(default_factory=lambda: Caching())
    api: Api = Field(default_factory=lambda: Api())
    operations: Operations = Field(default_factory=lambda: Operations())
    security: Security = Field(default_factory=lambda: Security())
    analytics: Analytics = Field(default_factory=lambda: Analytics())
    cost: Cost = Field(default_factory=lambda: Cost())
