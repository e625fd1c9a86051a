"""The events API: POST /api/v1/events, GET /api/v1/kpis/NAME, GET /api/v1/openapi.json."""
