"""The composition root: the one place that knows every concrete class and how they fit together."""

from __future__ import annotations

from dependency_injector import containers, providers

from application.events import EventBus
from application.idempotency import IdempotencyPolicy
from application.use_cases.export_students import ExportStudents
from application.use_cases.get_student import GetStudent
from application.use_cases.import_students import ImportStudents
from application.use_cases.list_students import ListStudents
from application.use_cases.purge_idempotency_keys import PurgeExpiredIdempotencyKeys
from application.use_cases.register_student import RegisterStudent
from application.use_cases.remove_student import RemoveStudent
from application.use_cases.replace_student import ReplaceStudent
from application.use_cases.update_student import UpdateStudent
from domain.ids import UuidV7Generator
from infrastructure.auth.keys import token_verifier
from infrastructure.clock import SystemClock
from infrastructure.observability.metrics import count_student_events
from infrastructure.rate_limits import Budget
from infrastructure.settings import load_settings
from infrastructure.sqlalchemy.database import close_on_shutdown, database_for
from infrastructure.sqlalchemy.engine import create_engine, dispose_on_shutdown
from infrastructure.sqlalchemy.gate import ConnectionGate
from infrastructure.sqlalchemy.health import DatabaseProbe, create_probe_engine, dispose_probe
from infrastructure.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from interfaces.lifecycle import Lifecycle


class Container(containers.DeclarativeContainer):
    # No wiring: the app looks up what its routes name in its own container when it is built
    # (interfaces/http/injection.py), so several apps and containers can live in one process.

    # This process's own state: serving, or draining before it stops.
    lifecycle = providers.Singleton(Lifecycle)

    settings = providers.Singleton(load_settings)

    # Built once per process; the resource below disposes its pool when the app shuts down.
    engine = providers.Singleton(create_engine, settings=settings)
    engine_lifetime = providers.Resource(
        dispose_on_shutdown, engine=engine, closing_within=settings.provided.db_statement_timeout
    )

    # Built once per process from the configured keys (or the local development secret).
    token_verifier = providers.Singleton(token_verifier, settings=settings)

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidV7Generator)

    # One fair queue per process for the pool's connections (see infrastructure/sqlalchemy/gate.py).
    connection_gate = providers.Singleton(
        ConnectionGate, permits=settings.provided.db_connections, timeout=settings.provided.db_pool_timeout
    )

    # Factories: every use-case call gets a unit of work of its own, never shared between requests.
    # Resolved once: a factory argument read from settings would be looked up on every call.
    database = providers.Singleton(database_for, engine=engine, settings=settings, gate=connection_gate)
    # The driver path's own connections (PostgreSQL), closed when the app shuts down.
    database_lifetime = providers.Resource(
        close_on_shutdown, database=database, closing_within=settings.provided.db_statement_timeout
    )
    # What acts on committed events (application/events.py), in this order. A new handler goes here.
    event_bus = providers.Singleton(EventBus, handlers=providers.List(providers.Object(count_student_events)))
    unit_of_work = providers.Factory(SqlAlchemyUnitOfWork, database=database, event_bus=event_bus)
    read_only_unit_of_work = providers.Factory(SqlAlchemyUnitOfWork, database=database, read_only=True)

    # Bulk imports run on connections of their own, with their long statement timeout, at most
    # settings.import_concurrency at once; made on the first import, closed with the app.
    import_settings = providers.Singleton(settings.provided.for_imports.call())
    import_engine = providers.Singleton(create_engine, settings=import_settings)
    import_engine_lifetime = providers.Resource(
        dispose_on_shutdown, engine=import_engine, closing_within=settings.provided.db_statement_timeout
    )
    import_gate = providers.Singleton(
        ConnectionGate,
        permits=settings.provided.import_concurrency,
        timeout=settings.provided.db_pool_timeout,
    )
    import_database = providers.Singleton(
        database_for, engine=import_engine, settings=import_settings, gate=import_gate
    )
    import_database_lifetime = providers.Resource(
        close_on_shutdown, database=import_database, closing_within=settings.provided.db_statement_timeout
    )
    import_unit_of_work = providers.Factory(
        SqlAlchemyUnitOfWork, database=import_database, event_bus=event_bus
    )

    idempotency_policy = providers.Singleton(
        IdempotencyPolicy, ttl=settings.provided.idempotency_ttl_timedelta
    )

    register_student = providers.Factory(
        RegisterStudent, uow=unit_of_work, clock=clock, ids=ids, policy=idempotency_policy
    )
    purge_idempotency_keys = providers.Factory(PurgeExpiredIdempotencyKeys, uow=unit_of_work, clock=clock)
    get_student = providers.Factory(GetStudent, uow=read_only_unit_of_work)
    list_students = providers.Factory(ListStudents, uow=read_only_unit_of_work)
    replace_student = providers.Factory(ReplaceStudent, uow=unit_of_work, clock=clock)
    update_student = providers.Factory(UpdateStudent, uow=unit_of_work, clock=clock)
    remove_student = providers.Factory(RemoveStudent, uow=unit_of_work)
    import_students = providers.Factory(
        ImportStudents,
        uow=import_unit_of_work,
        clock=clock,
        ids=ids,
        policy=idempotency_policy,
        max_errors=settings.provided.import_max_errors,
    )
    export_students = providers.Factory(ExportStudents, uow=read_only_unit_of_work)

    # Request budgets (infrastructure/rate_limits.py): per caller, and per client address.
    caller_budget = providers.Singleton(
        Budget,
        "caller",
        rate=settings.provided.rate_limit_rate,
        burst=settings.provided.rate_limit_burst,
        storage_url=settings.provided.rate_limit_storage_url,
        storage_timeout=settings.provided.rate_limit_storage_timeout,
    )
    address_budget = providers.Singleton(
        Budget,
        "address",
        rate=settings.provided.rate_limit_address_rate,
        burst=settings.provided.rate_limit_address_burst,
        storage_url=settings.provided.rate_limit_storage_url,
        storage_timeout=settings.provided.rate_limit_storage_timeout,
    )

    # Readiness asks on a connection of its own (infrastructure/sqlalchemy/health.py).
    probe_engine = providers.Singleton(create_probe_engine, settings=settings, engine=engine)
    probe_engine_lifetime = providers.Resource(
        dispose_probe,
        probe_engine=probe_engine,
        engine=engine,
        closing_within=settings.provided.readiness_timeout,
    )
    database_probe = providers.Singleton(
        DatabaseProbe, engine=probe_engine, timeout=settings.provided.readiness_timeout
    )
