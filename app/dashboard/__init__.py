"""The dashboard: server-rendered pages (Jinja2, no JavaScript needed) over the same services as REST and
GraphQL, and sign-in as a confidential OAuth client of the service's own authorization server."""
