"""(a) The FastAPI SQL tutorial's shape: sync routes, an ORM Session per request, OFFSET paging.

Laid out as the tutorial lays out ``sql_app``: database, models, schemas, crud, main. It reads the
same ``students`` table the service's migrations create.
"""
