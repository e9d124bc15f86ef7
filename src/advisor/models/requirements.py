"""The requirements a user states about their system: the product's input contract.

Every field is optional. A field left out is *unknown*: it is never given a default value,
rules that need it do not fire, and the report lists it as an assumption. Units are part of
each field name (``_rps``, ``_kb``, ``_gb``, ``_ms``, ``_minutes``, ``_seconds``).
"""

from __future__ import annotations

import itertools
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError


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
    mtls = "mtls"


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


class DrStrategy(str, Enum):
    """Disaster-recovery strategies, cheapest first."""

    backup_restore = "backup_restore"
    pilot_light = "pilot_light"
    warm_standby = "warm_standby"
    multi_site_active_active = "multi_site_active_active"


class Pillar(str, Enum):
    operational_excellence = "operational_excellence"
    security = "security"
    reliability = "reliability"
    performance_efficiency = "performance_efficiency"
    cost_optimization = "cost_optimization"
    sustainability = "sustainability"


class StorageKind(str, Enum):
    block = "block"
    file = "file"
    object = "object"


class AccessFrequency(str, Enum):
    frequent = "frequent"
    infrequent = "infrequent"
    archive = "archive"
    changing = "changing"


class FileProtocol(str, Enum):
    nfs = "nfs"
    smb = "smb"
    lustre = "lustre"


class LatencyTarget(str, Enum):
    """How fast an answer must come, in words, fastest first, when no number is known."""

    lowest_possible = "lowest_possible"
    real_time = "real_time"
    seconds = "seconds"
    near_real_time = "near_real_time"
    minutes = "minutes"
    hours = "hours"


class Protocol(str, Enum):
    """What clients speak; mqtt: publish and subscribe through an MQTT broker (TLS or WebSocket)."""

    http = "http"
    grpc = "grpc"
    websocket = "websocket"
    tcp = "tcp"
    udp = "udp"
    mqtt = "mqtt"


class OrderingScope(str, Enum):
    per_key = "per_key"
    global_ = "global"


class ClientCredentials(str, Enum):
    """What the clients of a broker or stream can authenticate with."""

    aws_iam = "aws_iam"
    client_certificates = "client_certificates"
    username_password = "username_password"


class FailoverInitiation(str, Enum):
    automatic = "automatic"
    operator = "operator"


class IoPattern(str, Enum):
    random = "random"
    sequential = "sequential"


class OutsideAccess(str, Enum):
    """Callers outside the account's own workloads that need AWS credentials."""

    third_party_account = "third_party_account"
    external_ci = "external_ci"
    end_user_devices = "end_user_devices"
    on_premises_servers = "on_premises_servers"
    same_org_account = "same_org_account"


class OperatingSystem(str, Enum):
    linux = "linux"
    windows = "windows"


class FederatedSignIn(str, Enum):
    saml = "saml"
    oidc = "oidc"
    social = "social"


class ArchiveRetrieval(str, Enum):
    """How long a read of archived data may take, fastest first."""

    milliseconds = "milliseconds"
    minutes = "minutes"
    hours = "hours"
    days = "days"


class ExistingPart(str, Enum):
    """The parts of a running system the `existing` section can name."""

    datastore = "datastore"
    compute = "compute"
    front_door = "front_door"
    object_storage = "object_storage"
    file_storage = "file_storage"
    messaging = "messaging"
    cache = "cache"
    warehouse = "warehouse"
    search = "search"
    stream_delivery = "stream_delivery"
    stream_processing = "stream_processing"
    big_data = "big_data"
    cdn = "cdn"
    workflow = "workflow"


class ExistingWorkflow(str, Enum):
    step_functions_standard = "step_functions_standard"
    step_functions_express = "step_functions_express"
    orchestrating_function = "orchestrating_function"


class ExistingWarehouse(str, Enum):
    redshift = "redshift"
    on_premises = "on_premises"


class ExistingCdn(str, Enum):
    cloudfront = "cloudfront"
    third_party = "third_party"


class DdosProtection(str, Enum):
    """How far protection against distributed denial-of-service attacks must go."""

    edge = "edge"
    advanced = "advanced"


class ExistingSearch(str, Enum):
    opensearch = "opensearch"
    self_managed_on_ec2 = "self_managed_on_ec2"


class ExistingStreamDelivery(str, Enum):
    data_firehose = "data_firehose"
    self_managed_forwarders = "self_managed_forwarders"


class ExistingStreamProcessing(str, Enum):
    managed_flink = "managed_flink"
    self_managed = "self_managed"


class ExistingBigData(str, Enum):
    emr = "emr"
    self_managed_hadoop = "self_managed_hadoop"


class ExistingDatastore(str, Enum):
    rds = "rds"
    aurora = "aurora"
    dynamodb = "dynamodb"
    documentdb = "documentdb"
    keyspaces = "keyspaces"
    neptune = "neptune"
    memorydb = "memorydb"
    timestream_influxdb = "timestream_influxdb"
    self_managed_on_ec2 = "self_managed_on_ec2"
    on_premises = "on_premises"


class DatabaseEngine(str, Enum):
    mysql = "mysql"
    postgresql = "postgresql"
    mariadb = "mariadb"
    oracle = "oracle"
    sqlserver = "sqlserver"
    db2 = "db2"
    mongodb = "mongodb"
    cassandra = "cassandra"
    redis = "redis"
    graph = "graph"
    other = "other"


class ExistingCompute(str, Enum):
    ec2_instances = "ec2_instances"
    ec2_auto_scaling = "ec2_auto_scaling"
    ecs_on_ec2 = "ecs_on_ec2"
    ecs_fargate = "ecs_fargate"
    eks = "eks"
    lambda_ = "lambda"
    on_premises = "on_premises"
    other_cloud = "other_cloud"


class ExistingFrontDoor(str, Enum):
    alb = "alb"
    alb_internal = "alb_internal"
    nlb = "nlb"
    api_gateway_rest = "api_gateway_rest"
    api_gateway_http = "api_gateway_http"
    api_gateway_websocket = "api_gateway_websocket"
    instance_endpoints = "instance_endpoints"
    appsync = "appsync"


class ExistingObjectStorage(str, Enum):
    s3 = "s3"
    on_premises = "on_premises"


class ExistingFileStorage(str, Enum):
    efs = "efs"
    fsx_windows = "fsx_windows"
    fsx_lustre = "fsx_lustre"
    self_managed_on_ec2 = "self_managed_on_ec2"
    on_premises = "on_premises"


class ExistingMessaging(str, Enum):
    sqs = "sqs"
    sqs_fifo = "sqs_fifo"
    sns = "sns"
    eventbridge = "eventbridge"
    kinesis = "kinesis"
    msk = "msk"
    msk_serverless = "msk_serverless"
    amazon_mq = "amazon_mq"
    self_managed_broker = "self_managed_broker"
    self_managed_kafka = "self_managed_kafka"
    iot_core = "iot_core"
    self_managed_mqtt_broker = "self_managed_mqtt_broker"


class ExistingCache(str, Enum):
    elasticache_redis = "elasticache_redis"
    elasticache_memcached = "elasticache_memcached"
    elasticache_serverless = "elasticache_serverless"
    elasticache_serverless_memcached = "elasticache_serverless_memcached"
    dax = "dax"
    self_managed_on_ec2 = "self_managed_on_ec2"


class KeyControl(str, Enum):
    aws_owned = "aws_owned"
    aws_managed = "aws_managed"
    customer_managed = "customer_managed"
    customer_provided = "customer_provided"


# Upper bound: far beyond any real system, and keeps every number printable without an
# exponent, which durable-rules' JSON parser cannot read (tests/test_engine.py pins it).
MAX_NUMBER = 1e12
NonNegative = Annotated[float, Field(ge=0, le=MAX_NUMBER, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, le=MAX_NUMBER, allow_inf_nan=False)]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


class Workload(Section):
    """What kind of system this is."""

    name: str | None = Field(None, max_length=200,
                             description="A short name for the system, on one line.")
    kind: WorkloadKind | None = Field(
        None,
        description="The main shape of the workload: an interactive web application, an API, "
        "event or message processing, a data pipeline, analytics, or batch jobs.",
    )
    description: str | None = Field(None, max_length=4000, description="Free text; not evaluated.")
    pillar_priorities: list[Pillar] | None = Field(
        None,
        description="Well-Architected pillars in this workload's priority order, most important "
        "first; the review section follows this order.",
    )

    @field_validator("name")
    @classmethod
    def _one_line_name(cls, value: str | None) -> str | None:
        # The name is the report's title: a line break would start new Markdown blocks there.
        if value is not None and ("\n" in value or "\r" in value):
            raise ValueError("the name is the report's title and must be one line")
        return value

    @field_validator("pillar_priorities")
    @classmethod
    def _distinct_pillars(cls, value: list[Pillar] | None) -> list[Pillar] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("each pillar may appear once")
        return value


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
    planned_event: bool | None = Field(
        None, description="A known high-traffic date is coming (sale, launch, migration)."
    )
    recurring_cycles: bool | None = Field(
        None, description="Load rises and falls in a learnable daily or weekly cycle."
    )
    idle_periods: bool | None = Field(
        None, description="Long stretches with little or no traffic (nights, dev/test)."
    )
    route_by_location: bool | None = Field(
        None,
        description="Each user must be served from a Region chosen by where the user is "
        "(data residency, content rights or local law), not by whichever Region answers "
        "fastest.",
    )


class Data(Section):
    """The shape and size of the data the system keeps."""

    model: DataModel | None = Field(None, description="The natural shape of the primary data.")
    size_gb: NonNegative | None = Field(None, description="Total stored data in GB.")
    mongodb_compatible: bool | None = Field(
        None,
        description="The application reads and writes through MongoDB drivers, tools or the "
        "MongoDB query language, so the database must accept the MongoDB API.",
    )
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
    reads_per_second: NonNegative | None = Field(
        None, description="Peak item reads per second against the primary data store."
    )
    writes_per_second: NonNegative | None = Field(
        None, description="Peak item writes per second against the primary data store."
    )
    skewed_keys: bool | None = Field(
        None, description="A few keys (a celebrity, a hot product, today's date) take most traffic."
    )
    secondary_access_patterns: bool | None = Field(
        None, description="Items are also looked up by attributes other than their primary key."
    )
    concurrent_updates: bool | None = Field(
        None, description="Several writers may update the same item at the same time."
    )
    change_capture: bool | None = Field(
        None, description="Other components must react to every change to the data."
    )
    database_os_access: bool | None = Field(
        None, description="The database needs OS or custom-software access on its host."
    )
    sustained_iops: NonNegative | None = Field(
        None, description="Sustained storage I/O operations per second the database needs."
    )
    io_cost_share_percent: Percent | None = Field(
        None,
        description="Share of the database's bill that goes to storage I/O requests, in "
        "percent (for Aurora: the I/O charges as a share of the cluster's total spend on "
        "Aurora Standard, from billing or an estimate).",
    )
    shared_session_state: bool | None = Field(
        None,
        description="Short-lived state (sessions, carts, leaderboards) that can be rebuilt if "
        "lost must be shared across servers.",
    )
    write_capacity_limited: bool | None = Field(
        None,
        description="The database accepts only a fixed write rate (capped capacity, licence or "
        "instance size); writes above it must wait rather than fail.",
    )
    point_in_time_recovery: bool | None = Field(
        None,
        description="The data must be restorable to any second of a recent period (after a bad "
        "write, a faulty deployment or an accidental delete).",
    )
    deleted_table_recovery: bool | None = Field(
        None,
        description="A whole table or database deleted by mistake (a script or an operator "
        "deleting or dropping it, not bad data written into it) must be restorable to its state "
        "just before the deletion.",
    )
    precomputed_aggregates: bool | None = Field(
        None,
        description="Totals, counts or rankings over many items must be read at once, kept up "
        "to date as items are written (no scans when they are read).",
    )
    event_sourced: bool | None = Field(
        None,
        description="State is kept as an append-only log of events from which any past state "
        "can be rebuilt (event sourcing).",
    )
    write_scale_out: bool | None = Field(
        None,
        description="Writes (or the data) outgrow what one primary database node can take, so "
        "they must be spread across several nodes (sharding).",
    )
    expire_after_days: NonNegative | None = Field(
        None,
        description="Items or rows must leave the primary data store this many days after "
        "they are written or after a time they carry (a session's end, an order's date); "
        "fractions are parts of a day. Records in the database, unlike "
        "storage.delete_after_days for objects.",
    )
    archive_expired: bool | None = Field(
        None,
        description="Records that leave the primary data store when they expire must be kept "
        "in long-term storage (an archive for audit or compliance), not only deleted.",
    )


class Latency(Section):
    """Response-time target."""

    p99_ms: Positive | None = Field(None, description="99th-percentile read latency target in ms.")
    target: LatencyTarget | None = Field(
        None,
        description="How fast results must arrive, in words, when no number is known: "
        "lowest_possible (microseconds to single-digit milliseconds); real_time (well under a "
        "second); seconds (a few seconds); near_real_time (within about a minute); minutes; "
        "hours (batch).",
    )


class Availability(Section):
    """How much failure the system must survive."""

    multi_az: bool | None = Field(
        None, description="Must survive the loss of an Availability Zone."
    )
    multi_region: bool | None = Field(None, description="Must survive the loss of a Region.")
    active_active: bool | None = Field(
        None, description="Several Regions serve writes at the same time."
    )
    remote_region_reads: bool | None = Field(
        None,
        description="Users in another Region need fast local reads of the same data, while "
        "writes stay in one Region.",
    )
    readable_standbys: bool | None = Field(
        None,
        description="The database's failover standbys must also serve reads (no idle standby).",
    )


class Recovery(Section):
    """Disaster-recovery objectives."""

    rto_as_low_as_possible: bool | None = Field(
        None,
        description="Recovery must be as fast as the design allows (no number given); counts as "
        "an RTO of 0 minutes. Give this or rto_minutes, not both.",
    )
    rto_minutes: NonNegative | None = Field(
        None, description="Recovery time objective: longest tolerable outage, in minutes."
    )
    rpo_as_low_as_possible: bool | None = Field(
        None,
        description="Data loss must be as small as the design allows (no number given); counts "
        "as an RPO of 0 minutes. Give this or rpo_minutes, not both.",
    )
    rpo_minutes: NonNegative | None = Field(
        None, description="Recovery point objective: most data loss tolerable, in minutes."
    )
    budget_allows: DrStrategy | None = Field(
        None,
        description="The costliest disaster-recovery strategy the budget allows: backup_restore "
        "(backups only), pilot_light, warm_standby or multi_site_active_active.",
    )
    failover_initiation: FailoverInitiation | None = Field(
        None,
        description="Who moves traffic to the recovery Region: automatic (health checks decide) "
        "or operator (people decide, to avoid failing over on a false alarm).",
    )
    planned_switchover: bool | None = Field(
        None,
        description="The primary Region is moved on purpose from time to time (Region rotation, "
        "drills, maintenance), with no data lost.",
    )
    restore_testing: bool | None = Field(
        None,
        description="Backups must be proven restorable on a schedule, with the time each restore "
        "takes recorded (audit or recovery-time evidence).",
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
    ordering_scope: OrderingScope | None = Field(
        None,
        description="per_key: order matters only among messages with the same key (a customer, "
        "an order, a device); global: one order for every message.",
    )
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
    exactly_once: bool | None = Field(
        None, description="A message must never be processed twice (duplicates cause harm)."
    )
    processing_seconds: NonNegative | None = Field(
        None, description="Longest time a consumer takes to process one message, in seconds."
    )
    retention_days: NonNegative | None = Field(
        None, description="How long unprocessed messages must be kept, in days."
    )
    multi_step_workflow: bool | None = Field(
        None,
        description="Work runs as several coordinated steps with retries, branches or waits.",
    )
    central_coordinator: bool | None = Field(
        None,
        description="A workflow that spans several services has one central coordinator that "
        "tells each service what to do (true: orchestration), or must have none, each service "
        "reacting to the others' events (false: choreography).",
    )
    client_credentials: ClientCredentials | None = Field(
        None,
        description="What the producers and consumers of a broker or stream that run outside "
        "the account can authenticate with: aws_iam (IAM roles or AWS credentials), "
        "client_certificates (TLS certificates from a private CA) or username_password (a "
        "Kafka or broker user name and password, no AWS credentials).",
    )
    saas_events: bool | None = Field(
        None, description="Events come from SaaS applications or must reach them."
    )
    aws_service_events: bool | None = Field(
        None,
        description="The system reacts to events AWS services emit (an instance changes state, "
        "an object is uploaded, a scheduled or health event) instead of polling their APIs.",
    )
    delivery_delay_seconds: Annotated[int, Field(ge=0, le=900)] | None = Field(
        None,
        description="Each message must wait this many seconds (at most 900) before a consumer "
        "may receive it.",
    )
    tenant_fairness: bool | None = Field(
        None,
        description="Many tenants share one queue, and a burst from one tenant must not delay "
        "the others' messages.",
    )
    cross_account_consumers: bool | None = Field(
        None,
        description="Consumers in other AWS accounts receive the messages or read the stream.",
    )
    cross_region_consumers: bool | None = Field(
        None,
        description="Consumers in another AWS Region receive the messages or events.",
    )
    consumer_max_rps: NonNegative | None = Field(
        None,
        description="The most requests or messages per second the consumer or downstream "
        "endpoint accepts (a partner's webhook, a licensed system, a legacy API); deliveries "
        "beyond it must wait, not fail.",
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
    stale_reads_ok: bool | None = Field(
        None, description="A read may return a value a little older than the latest write."
    )
    item_count: NonNegative | None = Field(
        None, description="Number of items the cache should hold (the working set)."
    )
    item_size_kb: NonNegative | None = Field(
        None, description="Average size of one cached item in KB, key included."
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
    auth: ApiAuth | None = Field(
        None,
        description="How callers authenticate: none, iam, cognito, oidc_jwt, api_key, "
        "lambda_custom, or mtls (client certificates checked by mutual TLS).",
    )
    protocol: Protocol | None = Field(
        None,
        description="What clients speak to the front door: http (HTTP/1.1 or HTTP/2, with or "
        "without TLS), grpc, websocket, raw tcp or udp, or mqtt (devices publishing and "
        "subscribing through an MQTT broker).",
    )
    tls_passthrough: bool | None = Field(
        None,
        description="TLS must end on the servers themselves: no load balancer or gateway may "
        "decrypt the traffic on the way.",
    )
    custom_ports: bool | None = Field(
        None, description="Clients connect on ports other than 80 and 443."
    )
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
    private_only: bool | None = Field(
        None, description="The API is reachable only from inside a VPC or over Direct Connect."
    )
    tiered_clients: bool | None = Field(
        None, description="Different customers get different quotas or plans (API products)."
    )
    no_api_key_header: bool | None = Field(
        None,
        description="Callers cannot send an API key header (x-api-key) besides the credential "
        "they already present (a token), so per-client plans must find each caller's key from "
        "that credential.",
    )
    passthrough_only: bool | None = Field(
        None,
        description="Handlers would only forward the request to another AWS service (queue, "
        "table, workflow) with no business logic.",
    )
    connection_minutes: NonNegative | None = Field(
        None,
        description="How long one client connection (WebSocket or TCP) stays open, in minutes.",
    )
    idle_seconds: NonNegative | None = Field(
        None,
        description="Longest silence between messages on an open client connection, in seconds.",
    )
    client_selects_target: bool | None = Field(
        None,
        description="The application itself decides which server and port each client "
        "reaches (a game session, an assigned endpoint), and traffic must go to exactly that "
        "one, not to one a load balancer picks.",
    )
    max_payload_mb: NonNegative | None = Field(
        None,
        description="Largest request or response body one API call carries, in MB (an upload, "
        "a generated file).",
    )
    intermittent_clients: bool | None = Field(
        None,
        description="Clients (devices) are offline for long stretches (sleep cycles, coverage "
        "gaps, power saving) and must still get, once they reconnect, the commands or settings "
        "sent to them while they were away.",
    )
    live_subscribers: bool | None = Field(
        None,
        description="Other clients or applications subscribe to the messages clients publish "
        "over MQTT, as they arrive (live views, device-to-device messages); false when the "
        "messages only go on to back-end processing and storage.",
    )
    graphql: bool | None = Field(
        None,
        description="Clients query one GraphQL API: they ask for exactly the fields they need "
        "in queries and mutations (and subscriptions, when the server also pushes updates), "
        "and one request may combine data from several data sources.",
    )
    team_owned_parts: bool | None = Field(
        None,
        description="Several teams each own a part of the one API (its types, resolvers and "
        "data sources) and must change and deploy their part independently of the others.",
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
    audit_trail: bool | None = Field(
        None, description="Every change to the AWS account must be recorded for audit."
    )
    distributed_tracing: bool | None = Field(
        None, description="Requests cross several services and must be traced end to end."
    )
    trace_each_message: bool | None = Field(
        None,
        description="Operators must be able to see what happened to each single message or "
        "event inside the messaging service (received, matched by a rule or not, delivered, "
        "retried, failed or dropped), not only totals and rates.",
    )
    shell_access: bool | None = Field(
        None,
        description="Operators need interactive shell or command access to the instances.",
    )
    desktop_private_access: bool | None = Field(
        None,
        description="People must reach private resources (a database in private subnets, an "
        "instance's port) from their own computers with their usual tools (SQL clients, "
        "admin consoles), without opening inbound ports to them.",
    )
    patch_compliance: bool | None = Field(
        None,
        description="Operating-system patches must be applied on a schedule and patch compliance "
        "reported for audit.",
    )
    notify_people: bool | None = Field(
        None,
        description="People must be notified (email, SMS, chat or paging) when the system "
        "detects a condition: an anomaly, a threshold crossed, a failed job.",
    )
    backlog_alarms: bool | None = Field(
        None,
        description="Operators must be alerted when a queue or stream backs up or its consumer "
        "stops.",
    )
    multi_source_dashboards: bool | None = Field(
        None,
        description="Operators need shared dashboards that put the system's operational "
        "telemetry from several sources on the same panels: CloudWatch metrics and logs beside "
        "Prometheus metrics, a SQL query engine, OpenSearch or other monitoring tools (business "
        "reports are analytics.dashboards).",
    )


class Security(Section):
    """Regulatory scope and data protection."""

    compliance: list[Compliance] | None = Field(
        None, description="Compliance regimes in scope (an empty list means none)."
    )
    sensitive_data: bool | None = Field(
        None, description="The system stores personal, financial or otherwise sensitive data."
    )
    key_control: KeyControl | None = Field(
        None,
        description="Who controls encryption keys: aws_owned, aws_managed, customer_managed "
        "(KMS keys you manage) or customer_provided (you supply the key material per request).",
    )
    dedicated_hsm: bool | None = Field(
        None, description="Keys must live in a single-tenant hardware security module."
    )
    credentials_rotation: bool | None = Field(
        None, description="Database and API credentials must rotate automatically."
    )
    geo_restriction: bool | None = Field(
        None, description="Content must be blocked in some countries."
    )
    geo_exceptions: bool | None = Field(
        None,
        description="Blocking by country has exceptions or further conditions: some callers in "
        "a blocked country (a partner's fixed IP addresses) must still get through, or the "
        "block applies only to some requests.",
    )
    web_exploit_protection: bool | None = Field(
        None,
        description="Requests must be filtered for common web exploits (SQL injection, "
        "cross-site scripting), bad bots and abusive IP addresses.",
    )
    no_internet_egress: bool | None = Field(
        None,
        description="Workloads must have no route to or from the internet (no internet or NAT "
        "gateway); AWS services are reached privately.",
    )
    no_public_endpoints: bool | None = Field(
        None,
        description="No load balancer, instance or other resource the system runs may have a "
        "public IP address or a publicly reachable endpoint (a network-perimeter rule); unlike "
        "no_internet_egress, internet clients may still be served.",
    )
    inline_inspection: bool | None = Field(
        None,
        description="Traffic must pass through third-party virtual appliances (firewalls, "
        "intrusion detection and prevention) on its way in and out.",
    )
    outside_access: list[OutsideAccess] | None = Field(
        None,
        description="Who outside the account's own workloads needs access to its AWS resources: "
        "third_party_account (a vendor's AWS account), external_ci (pipelines or workloads "
        "outside AWS with their own identity provider), end_user_devices (mobile or browser "
        "apps calling AWS services directly), on_premises_servers, same_org_account (another "
        "account of the same AWS Organization).",
    )
    encrypted_data_shared: bool | None = Field(
        None,
        description="Encrypted data (snapshots, backups, messages) must be shared with another "
        "AWS account, or written by an AWS service on the account's behalf.",
    )
    end_user_sign_in: bool | None = Field(
        None,
        description="End users sign up and sign in to the application with accounts it keeps.",
    )
    private_content: bool | None = Field(
        None,
        description="Files or media are served only to signed-in or paying viewers, never by "
        "public links.",
    )
    federated_sign_in: FederatedSignIn | None = Field(
        None,
        description="End users sign in through an external identity provider: saml "
        "(a corporate directory), oidc or social (Google, Apple, Facebook ...).",
    )
    field_level_encryption: bool | None = Field(
        None,
        description="Specific fields that users submit (card numbers, identity numbers) must be "
        "encrypted as they enter, so that only the one service that needs them can read them.",
    )
    static_egress_ip: bool | None = Field(
        None,
        description="Outbound calls to outside services must leave from fixed public IP "
        "addresses (a partner or vendor allowlists them).",
    )
    internet_egress: bool | None = Field(
        None,
        description="Workloads in private subnets must open connections to services on the "
        "internet (partner or vendor APIs, package repositories, software updates); any source "
        "address will do (static_egress_ip asks for fixed ones). Nothing on the internet may open "
        "connections to them.",
    )
    security_headers: bool | None = Field(
        None,
        description="Every HTTP response to browsers must carry security headers "
        "(Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, "
        "Content-Security-Policy, Referrer-Policy), added without changing the origin servers "
        "or their code.",
    )
    ddos_protection: DdosProtection | None = Field(
        None,
        description="Protection against distributed denial-of-service attacks: edge (network "
        "and transport floods absorbed at the AWS edge, no extra subscription) or advanced "
        "(also application-layer detection, a response team on call and protection of the bill "
        "from attack scaling).",
    )
    posture_checks: bool | None = Field(
        None,
        description="The accounts' resource configurations must be checked continuously against a "
        "security benchmark or best-practice standard (the CIS AWS Foundations Benchmark, AWS "
        "Foundational Security Best Practices), with each check's pass or fail kept as evidence, "
        "not only at a periodic audit.",
    )
    vulnerability_rescans: bool | None = Field(
        None,
        description="The software the workload runs (container images, instances, function "
        "packages) must be rescanned for known vulnerabilities automatically whenever new ones "
        "are published, not only when it is built, pushed or audited.",
    )
    upload_malware_scanning: bool | None = Field(
        None,
        description="Files that users, partners or other systems upload must be scanned for "
        "malware automatically before anyone opens or processes them.",
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
    etl: bool | None = Field(
        None, description="Data must be cleaned, joined or reshaped before it is queried."
    )
    big_data_frameworks: bool | None = Field(
        None, description="Processing uses Spark, Hadoop, Hive or Presto jobs over large data."
    )
    multiple_sources: bool | None = Field(
        None, description="Data lives in several stores that must be queried as one catalogue."
    )
    search: bool | None = Field(
        None, description="Full-text search or log analytics over the data."
    )
    data_quality_checks: bool | None = Field(
        None,
        description="Data must pass declared quality rules (completeness, ranges, uniqueness) "
        "before it is published; batches that fail are stopped or quarantined.",
    )
    concurrent_users: NonNegative | None = Field(
        None,
        description="Analysts or dashboard users querying at the same time at peak.",
    )
    query_cost_limit: bool | None = Field(
        None,
        description="The data a query scans, or what a team's queries cost, must be capped.",
    )
    repeated_queries: bool | None = Field(
        None,
        description="Dashboards and reports run the same expensive queries over and over, and "
        "their results may lag the data by minutes or more.",
    )


class Cost(Section):
    """How much cost drives the design."""

    sensitivity: CostSensitivity | None = Field(
        None, description="low: performance first; high: cheapest design that meets the needs."
    )


class Compute(Section):
    """How the application's units of work behave."""

    average_duration_ms: NonNegative | None = Field(
        None, description="Average time one request or event takes to process, in ms."
    )
    max_duration_seconds: NonNegative | None = Field(
        None, description="Longest single unit of work (request, job, message), in seconds."
    )
    cold_start_sensitive: bool | None = Field(
        None, description="The first request after idle must not pay a start-up delay."
    )
    package_size_mb: NonNegative | None = Field(
        None, description="Size of the deployed application code and dependencies, in MB."
    )
    stateful: bool | None = Field(
        None, description="Instances keep state on local disk or in memory between requests."
    )
    vcpus: NonNegative | None = Field(
        None, description="vCPUs one unit of work (request handler, job) needs."
    )
    memory_gb: NonNegative | None = Field(
        None, description="Memory one unit of work (request handler, job) needs, in GB."
    )
    gpu: bool | None = Field(None, description="The work needs GPUs.")
    containerized: bool | None = Field(
        None, description="The application is built and shipped as container images."
    )
    interruptible: bool | None = Field(
        None,
        description="Work that is interrupted can simply run again (from the start or from a "
        "checkpoint), so spare capacity that may be reclaimed is acceptable.",
    )
    os: OperatingSystem | None = Field(
        None, description="The operating system the application needs: linux or windows."
    )
    single_instance: bool | None = Field(
        None,
        description="Exactly one instance may run at a time (a licence or a singleton), and it "
        "must be replaced automatically when it fails.",
    )
    guaranteed_concurrency: bool | None = Field(
        None,
        description="One function must keep its capacity when other functions in the account "
        "burst (a concurrency floor it never competes for).",
    )
    unreliable_dependency: bool | None = Field(
        None,
        description="A synchronous downstream service fails for long periods; calls to it must "
        "fail fast while it is down and resume by themselves when it recovers.",
    )
    startup_seconds: NonNegative | None = Field(
        None,
        description="Time a new instance, task or function environment needs after launch "
        "before it can serve at full speed (boot, initialisation, warm-up), in seconds.",
    )
    tightly_coupled: bool | None = Field(
        None,
        description="One job runs across several instances at once that exchange data with "
        "each other all the time and need the lowest node-to-node latency (MPI simulations, "
        "distributed model training).",
    )
    arm64_compatible: bool | None = Field(
        None,
        description="The code and everything shipped with it (libraries, layers, extensions, "
        "agents, base images) runs on the arm64 architecture or has arm64 builds: interpreted "
        "code, open-source dependencies with arm64 versions. false: some part exists only for "
        "x86_64.",
    )


class Storage(Section):
    """Files and volumes beside the primary data store."""

    kind: StorageKind | None = Field(
        None, description="block (a disk for one host), file (a shared file system), object."
    )
    shared_access: bool | None = Field(
        None, description="Many hosts read and write the same files at the same time."
    )
    access_frequency: AccessFrequency | None = Field(
        None,
        description="frequent; infrequent (monthly); archive (rarely, hours to restore is fine); "
        "changing (unknown or shifting access).",
    )
    largest_object_gb: NonNegative | None = Field(
        None, description="Size of the largest single object or file, in GB."
    )
    file_protocol: FileProtocol | None = Field(
        None, description="nfs (Linux), smb (Windows) or lustre (high-performance computing)."
    )
    io_pattern: IoPattern | None = Field(
        None,
        description="How a volume is read and written: random (small reads and writes, "
        "databases) or sequential (large streaming reads and writes: logs, big data, backups).",
    )
    scratch_only: bool | None = Field(
        None, description="The data is temporary (caches, buffers) and may be lost with the host."
    )
    infrequent_after_days: NonNegative | None = Field(
        None,
        description="Objects are read rarely (about monthly) once they are this many days old.",
    )
    archive_after_days: NonNegative | None = Field(
        None,
        description="Objects are only kept for audit or rare recovery once they are this many "
        "days old.",
    )
    delete_after_days: NonNegative | None = Field(
        None, description="Objects may be deleted once they are this many days old (retention)."
    )
    immutable_retention_days: NonNegative | None = Field(
        None,
        description="Objects must be kept write-once-read-many for this many days after they are "
        "written: until then nobody, administrators and the root user included, may overwrite or "
        "delete them (regulatory record keeping such as SEC 17a-4, FINRA or CFTC). "
        "0: no such need.",
    )
    archive_retrieval: ArchiveRetrieval | None = Field(
        None,
        description="How long reading back an archived object may take: milliseconds, minutes, "
        "hours or days.",
    )
    posix_semantics: bool | None = Field(
        None,
        description="Applications need file-system behaviour: edits in place, renames, appends "
        "and file locks.",
    )
    copy_in_same_region: bool | None = Field(
        None,
        description="Objects must also be copied to another bucket or account in the same "
        "Region (log aggregation, a separate copy, production to test).",
    )


class Streaming(Section):
    """A continuous stream of records (clickstream, telemetry, logs)."""

    write_mb_per_second: NonNegative | None = Field(
        None, description="Total producer throughput in MB per second."
    )
    records_per_second: NonNegative | None = Field(
        None, description="Total records written per second."
    )
    consumer_count: Annotated[int, Field(ge=0, le=1000)] | None = Field(
        None, description="Independent applications that each read the whole stream."
    )
    kafka_compatible: bool | None = Field(
        None, description="Producers or consumers use the Apache Kafka APIs."
    )
    retention_hours: NonNegative | None = Field(
        None, description="How long records must stay readable, in hours."
    )
    archive_raw: bool | None = Field(
        None,
        description="Every raw record must also be kept unchanged in durable storage, beside "
        "whatever processes the stream.",
    )


class Deployment(Section):
    """How new versions reach production."""

    downtime_ok: bool | None = Field(
        None, description="A short outage during a deployment is acceptable."
    )
    full_capacity_during_deploy: bool | None = Field(
        None, description="Serving capacity must not drop while a deployment runs."
    )
    gradual_rollout: bool | None = Field(
        None, description="A new version first takes a small share of traffic (canary)."
    )
    instant_rollback: bool | None = Field(
        None, description="Rolling back must be a traffic switch, not a redeploy."
    )
    auto_rollback: bool | None = Field(
        None,
        description="A deployment that fails its health checks or alarms must stop and roll "
        "back by itself, without an operator.",
    )
    iac_in_programming_language: bool | None = Field(
        None, description="The team wants to define infrastructure in a programming language."
    )


class Jobs(Section):
    """Work that runs on a schedule rather than on requests."""

    scheduled: bool | None = Field(
        None, description="Some work runs on a schedule (nightly reports, hourly syncs)."
    )
    schedule: str | None = Field(
        None, max_length=200,
        description="When the jobs run, as a cron or rate expression or in words; not evaluated.",
    )
    duration_minutes: NonNegative | None = Field(
        None, description="How long the longest scheduled job runs, in minutes."
    )
    fair_share: bool | None = Field(
        None,
        description="Several teams or job types share the batch capacity and must each get a "
        "fair or weighted share instead of first in, first out.",
    )
    item_count: Annotated[int, Field(ge=0, le=1_000_000_000_000)] | None = Field(
        None,
        description="How many independent items (files, objects, records) one run of a batch "
        "job processes, each on its own.",
    )


class Existing(Section):
    """What already runs: the parts of the current system the design starts from."""

    datastore: ExistingDatastore | None = Field(
        None,
        description="The database in place: rds, aurora, dynamodb, documentdb, keyspaces, "
        "neptune, memorydb, timestream_influxdb (Amazon Timestream for InfluxDB), "
        "self_managed_on_ec2 (a database installed on EC2 instances) or on_premises.",
    )
    datastore_engine: DatabaseEngine | None = Field(
        None, description="The engine of the database in place."
    )
    compute: ExistingCompute | None = Field(
        None,
        description="Where the application runs today: ec2_instances (fixed instances), "
        "ec2_auto_scaling, ecs_on_ec2, ecs_fargate, eks, lambda, on_premises or other_cloud "
        "(servers at another cloud provider).",
    )
    front_door: ExistingFrontDoor | None = Field(
        None,
        description="What receives client requests today: alb, alb_internal (reachable only "
        "inside the VPC or connected networks), nlb, api_gateway_rest, api_gateway_http, "
        "api_gateway_websocket, instance_endpoints (clients call the instances directly) or "
        "appsync (an AWS AppSync GraphQL API).",
    )
    object_storage: ExistingObjectStorage | None = Field(
        None, description="Where objects and files are stored today: s3 or on_premises."
    )
    file_storage: ExistingFileStorage | None = Field(
        None,
        description="The shared file system in place: efs, fsx_windows, fsx_lustre, "
        "self_managed_on_ec2 (an NFS or SMB server on EC2) or on_premises.",
    )
    messaging: ExistingMessaging | None = Field(
        None,
        description="The queue, topic, bus, stream or broker in place: sqs, sqs_fifo, sns, "
        "eventbridge, kinesis, msk (a provisioned MSK cluster), msk_serverless (an MSK "
        "Serverless cluster), amazon_mq, self_managed_broker (ActiveMQ or RabbitMQ you run), "
        "self_managed_kafka, iot_core (AWS IoT Core, which devices connect to over MQTT) or "
        "self_managed_mqtt_broker (Mosquitto, EMQX, HiveMQ or another MQTT broker you run for "
        "devices).",
    )
    cache: ExistingCache | None = Field(
        None,
        description="The cache in place: elasticache_redis (a node-based cluster running Valkey "
        "or Redis OSS), elasticache_memcached (a node-based Memcached cluster), "
        "elasticache_serverless (ElastiCache Serverless for Valkey or Redis OSS), "
        "elasticache_serverless_memcached (ElastiCache Serverless for Memcached), dax or "
        "self_managed_on_ec2.",
    )
    warehouse: ExistingWarehouse | None = Field(
        None,
        description="The data warehouse in place: redshift (provisioned or Serverless) or "
        "on_premises (Teradata, Oracle, Netezza or another warehouse in a data center).",
    )
    search: ExistingSearch | None = Field(
        None,
        description="The search or log-analytics cluster in place: opensearch (Amazon OpenSearch "
        "Service) or self_managed_on_ec2 (Elasticsearch or OpenSearch the team runs on EC2).",
    )
    stream_delivery: ExistingStreamDelivery | None = Field(
        None,
        description="What delivers records to their destination today: data_firehose or "
        "self_managed_forwarders (Logstash, Fluentd or scripts the team runs).",
    )
    stream_processing: ExistingStreamProcessing | None = Field(
        None,
        description="The stream processor in place: managed_flink (Amazon Managed Service for "
        "Apache Flink) or self_managed (Flink, Spark Streaming or Kafka Streams the team runs).",
    )
    big_data: ExistingBigData | None = Field(
        None,
        description="The big-data cluster in place: emr or self_managed_hadoop (Hadoop or Spark "
        "the team runs on EC2 or on premises).",
    )
    cdn: ExistingCdn | None = Field(
        None,
        description="The content delivery network in front of the system today: cloudfront or "
        "third_party (another provider's CDN).",
    )
    workflow: ExistingWorkflow | None = Field(
        None,
        description="What runs multi-step work today: step_functions_standard (a Step Functions "
        "Standard workflow), step_functions_express (a Step Functions Express workflow) or "
        "orchestrating_function (a function or service of the team's own that calls each step "
        "and waits for it).",
    )


ComponentId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]


class ComponentChoice(Section):
    """A component named by a constraint, and why."""

    component: ComponentId = Field(
        description="A component id (`advisor rules components` lists them)."
    )
    reason: str = Field(min_length=3, max_length=500, description="Why; shown in the report.")


class Constraints(Section):
    """What the design must respect besides the needs: what stays, what may change, and the
    organisation's standards."""

    keep: list[ExistingPart] | None = Field(
        None,
        description="Parts of the existing system that must stay as they are (each must be "
        "named in `existing`): datastore, compute, front_door, object_storage, file_storage, "
        "messaging, cache, warehouse, search, stream_delivery, stream_processing, big_data, cdn, "
        "workflow.",
    )
    replaceable: list[ExistingPart] | None = Field(
        None,
        description="Parts of the existing system the design may replace (each must be named "
        "in `existing`).",
    )
    minimal_code_change: bool | None = Field(
        None, description="The application code must change as little as possible."
    )
    no_data_loss: bool | None = Field(
        None,
        description="No accepted request or message may be lost, even when a downstream part "
        "is slow or down.",
    )
    no_schema_change: bool | None = Field(
        None,
        description="The database engine and schema must stay as they are (no conversion to "
        "another engine or data model).",
    )
    incremental_migration: bool | None = Field(
        None,
        description="The system moves to its new design piece by piece (route by route or "
        "feature by feature) behind one stable address, while the old system keeps serving "
        "what has not moved yet (strangler fig).",
    )
    online_migration: bool | None = Field(
        None,
        description="The running database keeps taking writes while its data is copied to the "
        "new data store; writes may stop only briefly, for the final switch (an online "
        "migration, not a dump and restore in a maintenance window).",
    )
    must_use: list[ComponentChoice] | None = Field(
        None, max_length=50,
        description="Components the design must use where they fit (an organisation's "
        "standards), each with a reason.",
    )
    must_not_use: list[ComponentChoice] | None = Field(
        None, max_length=50,
        description="Components the design must not use, each with a reason; the next "
        "alternative is chosen instead.",
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
    compute: Compute = Field(default_factory=lambda: Compute())
    storage: Storage = Field(default_factory=lambda: Storage())
    streaming: Streaming = Field(default_factory=lambda: Streaming())
    api: Api = Field(default_factory=lambda: Api())
    operations: Operations = Field(default_factory=lambda: Operations())
    security: Security = Field(default_factory=lambda: Security())
    analytics: Analytics = Field(default_factory=lambda: Analytics())
    deployment: Deployment = Field(default_factory=lambda: Deployment())
    cost: Cost = Field(default_factory=lambda: Cost())
    jobs: Jobs = Field(default_factory=lambda: Jobs())
    existing: Existing = Field(default_factory=lambda: Existing())
    constraints: Constraints = Field(default_factory=lambda: Constraints())

    @model_validator(mode="after")
    def _consistent(self) -> Requirements:
        found = inconsistencies(self)
        if found:
            # Each field path travels in the context so messages can point at its line.
            raise PydanticCustomError(
                "inconsistent", "{summary}",
                {"summary": "; ".join(f"{field}: {problem}" for field, problem in found),
                 "problems": found})
        return self


def inconsistencies(requirements: Requirements) -> list[tuple[str, str]]:
    """Values that contradict each other across fields, as (field path, problem); empty when
    the requirements are consistent."""
    out: list[tuple[str, str]] = []
    constraints = requirements.constraints
    existing = requirements.existing
    lists = (("keep", constraints.keep), ("replaceable", constraints.replaceable))
    for name, parts in lists:
        for index, part in enumerate(parts or []):
            if (parts or []).index(part) != index:
                out.append((f"constraints.{name}.{index}", f"'{part.value}' is listed twice"))
            elif getattr(existing, part.value) is None:
                out.append((f"constraints.{name}.{index}",
                            f"'{part.value}' is not named in the existing section (give "
                            f"existing.{part.value} first)"))
    both = set(constraints.keep or []) & set(constraints.replaceable or [])
    for part in sorted(both, key=lambda item: item.value):
        index = (constraints.replaceable or []).index(part)
        out.append((f"constraints.replaceable.{index}",
                    f"'{part.value}' is also in constraints.keep (a part is kept or "
                    "replaceable, not both)"))
    choices = (("must_use", constraints.must_use), ("must_not_use", constraints.must_not_use))
    for name, chosen in choices:
        seen: set[str] = set()
        for index, choice in enumerate(chosen or []):
            if choice.component in seen:
                out.append((f"constraints.{name}.{index}.component",
                            f"'{choice.component}' is listed twice"))
            seen.add(choice.component)
    required = {choice.component for choice in constraints.must_use or []}
    for index, choice in enumerate(constraints.must_not_use or []):
        if choice.component in required:
            out.append((f"constraints.must_not_use.{index}.component",
                        f"'{choice.component}' is also in constraints.must_use"))
    recovery = requirements.recovery
    for kind in ("rto", "rpo"):
        if getattr(recovery, f"{kind}_as_low_as_possible") and (
                getattr(recovery, f"{kind}_minutes") is not None):
            out.append((f"recovery.{kind}_as_low_as_possible",
                        f"give either recovery.{kind}_minutes or "
                        f"recovery.{kind}_as_low_as_possible, not both"))
    storage = requirements.storage
    ages = [(name, getattr(storage, name)) for name in
            ("infrequent_after_days", "archive_after_days", "delete_after_days")]
    given = [(name, value) for name, value in ages if value is not None]
    for (earlier, first), (later, second) in itertools.pairwise(given):
        if second <= first:
            out.append((f"storage.{later}",
                        f"must be more than storage.{earlier} ({first:g}): objects move to "
                        "infrequent access, then to the archive, then are deleted"))
    return out
