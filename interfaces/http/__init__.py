"""The REST interface: FastAPI app, routers, schemas and the error mapping."""
