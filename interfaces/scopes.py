"""The scopes a token can grant, as named in its ``scope`` claim (space-separated)."""

READ = "students:read"  # GET
WRITE = "students:write"  # POST, PUT, PATCH, DELETE
ADMIN = "students:admin"  # bulk import and export

ALL = (READ, WRITE, ADMIN)
